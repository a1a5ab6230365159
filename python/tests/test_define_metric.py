"""run.define_metric against a real server: the run summary keeps what the definitions ask for."""
import amphora
from amphora import Api

from .support import ServerTestCase


class DefineMetricTest(ServerTestCase):
    def test_summaries_globs_and_step_sync_reach_the_server(self):
        with amphora.init(project="p-metrics", job_type="train") as run:
            # W&B's log-summary documentation example, then a glob with a step metric.
            run.define_metric("loss", summary="min")
            run.define_metric("loss", summary="max")
            amphora.define_metric("val/*", step_metric="epoch", summary="mean")
            run.define_metric("acc", summary="best", goal="maximize")
            run.define_metric("debug", summary="none")
            for epoch, (loss, acc) in enumerate([(0.9, 0.5), (0.3, 0.8), (0.6, 0.7)]):
                run.log({"loss": loss, "acc": acc, "debug": epoch, "epoch": epoch})
                run.log({"val/loss": loss + 0.1})
            self.assertEqual(run.summary["loss"], {"min": 0.3, "max": 0.9})
        got = Api().run(run.path)
        self.assertEqual(got.summary["loss"], {"min": 0.3, "max": 0.9})
        self.assertEqual(got.summary["acc"], {"best": 0.8})
        self.assertAlmostEqual(got.summary["val/loss"]["mean"], 0.7)
        self.assertEqual(got.summary["epoch"], 2)  # undefined keys keep their last value
        self.assertNotIn("debug", got.summary)
        # step_sync: rows with val/loss got the last epoch
        val_rows = [r for r in got.history() if "val/loss" in r]
        self.assertEqual([r["epoch"] for r in val_rows], [0, 1, 2])

    def test_what_cannot_be_honoured_or_is_wrong_raises(self):
        with amphora.init(project="p-metrics", job_type="x") as run:
            with self.assertRaises(NotImplementedError) as hidden:
                run.define_metric("secret", hidden=True)
            self.assertIn("hidden", str(hidden.exception))
            with self.assertRaises(ValueError):
                run.define_metric("loss", summary="best")  # best needs a goal
            with self.assertRaises(ValueError):
                run.define_metric("loss", summary="median")
