"""W&B's Registry in the Python client against a real server: link_artifact, Artifact.link,
log_model / use_model / link_model, Api().create_registry / registry / registries."""
import os

import amphora
from amphora import Api, Artifact
from amphora.errors import CommError

from .support import ServerTestCase


class RegistryTest(ServerTestCase):
    def test_link_artifact_keeps_the_source_lineage_under_the_link_path(self):
        with amphora.init(project="p-reg", job_type="train") as run:
            model = Artifact("net", type="model")
            model.add_file(self.write("w.bin", "weights"))
            linked = run.link_artifact(model, "wandb-registry-model/classifier", aliases=["staging"])
        self.assertEqual(model.name, "net:v0")  # a draft is logged by the run first
        self.assertTrue(linked.is_link)
        self.assertEqual((linked.name, linked.project, linked.collection_name), ("classifier:v0", "wandb-registry-model", "classifier"))
        self.assertEqual(linked.aliases, ["latest", "staging"])
        self.assertEqual(linked.source_name, "net:v0")
        self.assertEqual(linked.source_qualified_name, f"{linked.entity}/p-reg/net:v0")
        self.assertEqual(linked.logged_by().id, run.id)
        self.assertEqual(linked.source_artifact.qualified_name, model.qualified_name)
        self.assertFalse(model.is_link)

        with amphora.init(project="p-serve", job_type="serve") as consumer:
            used = consumer.use_artifact("wandb-registry-model/classifier:staging")
            root = used.download(os.path.join(self.work, "dl"))
        with open(os.path.join(root, "w.bin")) as f:
            self.assertEqual(f.read(), "weights")
        self.assertEqual([r.id for r in Api().artifact("p-reg/net:v0").used_by()], [consumer.id])
        self.assertEqual([r.id for r in used.used_by()], [consumer.id])

        # Artifact.link outside a run; the legacy model-registry path reaches the same registry.
        again = Api().artifact("p-reg/net:v0").link("model-registry/classifier", aliases=["prod"])
        self.assertEqual((again.name, sorted(again.aliases)), ("classifier:v0", ["latest", "prod", "staging"]))

    def test_log_model_use_model_and_link_model(self):
        path = self.write("model.h5", "Model: 0.5")
        with amphora.init(project="p-models", job_type="train") as run:
            logged = run.log_model(path, name="mnist-model", aliases=["candidate"])
            run.link_model(path, registered_model_name="MNIST")
        self.assertEqual((logged.type, logged.name), ("model", "mnist-model:v0"))
        default = None
        with amphora.init(project="p-models", job_type="train") as run:
            default = run.log_model(self.write("other.pt", "x"))
        self.assertEqual(default.collection_name, f"run-{run.id}-other.pt")
        mnist = Api().artifact("wandb-registry-model/MNIST:latest")
        self.assertEqual((mnist.source_name, mnist.type), (f"run-{mnist.logged_by().id}-model.h5:v0", "model"))
        with amphora.init(project="p-models", job_type="eval") as run:
            local = run.use_model("mnist-model:candidate")
            self.assertEqual(os.path.basename(local), "model.h5")  # the only file, as W&B returns it
            with open(local) as f:
                self.assertEqual(f.read(), "Model: 0.5")
            self.log_file(run, "not-a-model", "dataset", "d.csv", "1")
            with self.assertRaises(ValueError):
                run.use_model("not-a-model:latest")

    def test_registries_are_created_read_saved_listed_and_deleted(self):
        api = Api()
        reg = api.create_registry("evals", visibility="restricted", description="eval sets", artifact_types=["dataset"])
        self.assertEqual((reg.name, reg.full_name, reg.visibility, reg.allow_all_artifact_types), ("evals", "wandb-registry-evals", "restricted", False))
        with self.assertRaises(ValueError):  # W&B: an existing registry is a ValueError
            api.create_registry("evals", visibility="organization")
        with self.assertRaises(ValueError):
            api.create_registry("bad-vis", visibility="public")
        with amphora.init(project="p-evals", job_type="make") as run:
            ds = self.log_file(run, "golden", "dataset", "g.txt", "g")
            model = self.log_file(run, "m", "model", "m.txt", "m")
            run.link_artifact(ds, "wandb-registry-evals/golden-set")
            with self.assertRaises(CommError) as refused:
                run.link_artifact(model, "wandb-registry-evals/models")
            self.assertIn('not "model"', str(refused.exception))
        got = api.registry("evals")
        self.assertEqual(got.description, "eval sets")
        self.assertEqual([c.name for c in got.collections()], ["golden-set"])
        self.assertEqual([c.name for c in got.collections(filter={"name": {"$regex": "^x"}})], [])
        self.assertEqual([v.name for v in got.versions()], ["golden-set:v0"])
        got.description = "eval sets and models"
        got.artifact_types.append("model")
        got.artifact_types.append("oops")
        got.artifact_types.remove("oops")  # not saved yet: removable
        got.tags = ["q4"]
        got.save()
        with self.assertRaises(ValueError):
            got.artifact_types.remove("model")  # saved types stay (W&B's rule)
        again = api.registry("evals")
        self.assertEqual((again.description, list(again.artifact_types), again.tags), ("eval sets and models", ["dataset", "model"], ["q4"]))
        self.assertIn("evals", [r.name for r in api.registries()])
        self.assertEqual([r.name for r in api.registries(filter={"name": "evals"})], ["evals"])
        again.delete()
        self.assertNotIn("evals", [r.name for r in api.registries()])
        with self.assertRaises(CommError):
            api.registry("evals")
        self.assertEqual(api.artifact("p-evals/golden:v0").name, "golden:v0")  # the source stays

    def test_bad_link_targets_and_offline_linking_say_what_to_do(self):
        with amphora.init(project="p-badlink", job_type="x") as run:
            a = self.log_file(run, "a", "dataset", "a.txt", "a")
            with self.assertRaises(ValueError):
                run.link_artifact(a, "just-a-name")
            with self.assertRaises(ValueError):
                run.link_artifact(a, "wandb-registry-model/coll:v0")
            with self.assertRaises(CommError) as missing:
                run.link_artifact(a, "wandb-registry-nope/coll")
            self.assertIn("create_registry", str(missing.exception))
        offline = amphora.init(project="p-badlink", mode="offline", dir=self.work, reinit=True)
        try:
            with self.assertRaises(amphora.AmphoraError) as e:
                offline.link_artifact(a, "wandb-registry-model/coll")
            self.assertIn("amphora sync", str(e.exception))
        finally:
            offline.finish()
