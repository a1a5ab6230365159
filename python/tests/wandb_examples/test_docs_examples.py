"""The yardstick of the W&B drop-in: the calls W&B's documentation shows for artifacts, registries and
runs, written as its examples write them (only `import amphora as wandb`, and concrete values where
the docs have <placeholders>), each against a real server. The page each follows is named above it."""
import datetime
import os
import random

import amphora as wandb

from ..support import ServerTestCase


class WandbDocsExamplesTest(ServerTestCase):
    def setUp(self):
        self.entity = wandb.Api().default_entity
        with open("model.h5", "w") as f:
            f.write("Model: " + str(random.random()))
        os.makedirs("data", exist_ok=True)
        for name in ("train.csv", "test.csv"):
            with open(os.path.join("data", name), "w") as f:
                f.write("x,y\n1,2\n")

    def tearDown(self):
        wandb.finish()  # an example that failed mid-run leaves no live run behind for the next one

    # docs: artifacts/construct-an-artifact (create, add files and a directory, log)
    def test_construct_and_log_an_artifact(self):
        run = wandb.init(project="artifacts-example", job_type="add-dataset")
        artifact = wandb.Artifact(name="example_artifact", type="dataset")
        artifact.add_file(local_path="./data/train.csv", name="training_data.csv")
        artifact.add_dir(local_path="./data", name="raw")
        run.log_artifact(artifact)
        run.finish()
        self.assertEqual(wandb.Api().artifact("artifacts-example/example_artifact:latest").name, "example_artifact:v0")

    # docs: artifacts/construct-an-artifact (new_file)
    def test_new_file_then_log(self):
        artifact = wandb.Artifact("my_table", "dataset")
        with artifact.new_file("hello.txt") as f:
            f.write("hello!")
        with wandb.init(project="artifacts-example") as run:
            run.log_artifact(artifact)
        self.assertEqual(artifact.version, "v0")

    # docs: artifacts/download-and-use-an-artifact
    def test_use_and_download_inside_and_outside_a_run(self):
        with wandb.init(project="artifacts-example", job_type="make") as run:
            a = wandb.Artifact("bike-dataset", type="dataset")
            a.add_dir("data")
            run.log_artifact(a)
        run = wandb.init(project="artifacts-example", job_type="inference")
        artifact = run.use_artifact("bike-dataset:latest")
        artifact_dir = artifact.download()
        run.finish()
        self.assertTrue(os.path.isfile(os.path.join(artifact_dir, "train.csv")))
        api = wandb.Api()
        artifact = api.artifact(f"{self.entity}/artifacts-example/bike-dataset:latest")
        entry = artifact.get_entry("train.csv")
        entry.download()
        artifact.download(root="bike-root")
        self.assertTrue(os.path.isfile(os.path.join("bike-root", "train.csv")))

    # docs: artifacts/update-an-artifact (during a run, and with the public API)
    def test_update_an_artifact(self):
        with wandb.init(project="example") as run:
            a = wandb.Artifact("upd", type="dataset")
            a.add_file("model.h5")
            run.log_artifact(a)
        with wandb.init(project="example") as run:
            artifact = run.use_artifact("upd:latest")
            artifact.description = "a description"
            artifact.save()
        api = wandb.Api()
        artifact = api.artifact(f"{self.entity}/example/upd:latest")
        artifact.description = "My new description"
        artifact.metadata["oldKey"] = "new value"
        artifact.metadata = {"newKey": "new value"}
        artifact.aliases.append("best")
        artifact.aliases.remove("latest")
        artifact.aliases = ["replaced"]
        artifact.save()
        got = api.artifact(f"{self.entity}/example/upd:replaced")
        self.assertEqual((got.description, got.metadata), ("My new description", {"newKey": "new value"}))

    # docs: artifacts/create-a-new-artifact-version (incremental: new_draft)
    def test_incremental_new_draft(self):
        with wandb.init(project="example", job_type="make") as run:
            a = wandb.Artifact("inc", type="dataset")
            a.add_file("data/train.csv")
            run.log_artifact(a)
        saved_artifact = wandb.Api().artifact("example/inc:latest")
        draft_artifact = saved_artifact.new_draft()
        draft_artifact.add_file("data/test.csv")
        draft_artifact.remove("train.csv")
        with wandb.init(project="example", job_type="modify") as run:
            run.log_artifact(draft_artifact)
        self.assertEqual([f.name for f in wandb.Api().artifact("example/inc:v1").files()], ["test.csv"])

    # docs: artifacts/delete-artifacts (a version, then with its aliases)
    def test_delete_artifacts(self):
        with wandb.init(project="example") as run:
            for i in range(2):
                a = wandb.Artifact("gone", type="dataset")
                with a.new_file("n.txt") as f:
                    f.write(str(i))
                run.log_artifact(a, aliases=["keep"] if i else None)
        api = wandb.Api()
        artifact = api.artifact(f"{self.entity}/example/gone:v0")
        artifact.delete()
        artifact = api.artifact(f"{self.entity}/example/gone:v1")
        artifact.delete(delete_aliases=True)
        self.assertFalse(api.artifact_exists("example/gone:v1"))

    # docs: artifacts/track-external-files (file:// references)
    def test_track_external_files(self):
        artifact = wandb.Artifact("mnist", type="dataset")
        artifact.add_reference("file://" + os.path.abspath("data"))
        with wandb.init(project="example") as run:
            run.log_artifact(artifact)
        root = wandb.Api().artifact("example/mnist:latest").download()
        self.assertTrue(os.path.isfile(os.path.join(root, "train.csv")))

    # docs: artifacts/ttl
    def test_artifact_ttl(self):
        run = wandb.init(project="example")
        artifact = wandb.Artifact(name="ttl-art", type="dataset")
        artifact.add_file("model.h5")
        artifact.ttl = datetime.timedelta(days=30)
        run.log_artifact(artifact)
        run.finish()
        artifact = wandb.Api().artifact(f"{self.entity}/example/ttl-art:latest")
        artifact.ttl = datetime.timedelta(days=365)
        artifact.save()
        self.assertEqual(wandb.Api().artifact("example/ttl-art:v0").ttl, datetime.timedelta(days=365))

    # docs: artifacts/tags (log with tags, add and remove on a logged version)
    def test_artifact_tags(self):
        with wandb.init(project="example") as run:
            artifact = wandb.Artifact(name="tagged", type="dataset")
            artifact.add_file("model.h5")
            run.log_artifact(artifact, tags=["tag1", "tag2"])
        artifact = wandb.Api().artifact("example/tagged:latest")
        artifact.tags.append("new tag")
        artifact.tags.remove("tag1")
        artifact.save()
        self.assertEqual(wandb.Api().artifact("example/tagged:v0").tags, ["tag2", "new tag"])

    # docs: artifacts/explore-and-traverse-an-artifact-graph
    def test_traverse_the_graph(self):
        with wandb.init(project="example", job_type="make") as run:
            a = wandb.Artifact("graph-src", type="dataset")
            a.add_file("model.h5")
            run.log_artifact(a)
        with wandb.init(project="example", job_type="use") as consumer:
            consumer.use_artifact("graph-src:latest")
        api = wandb.Api()
        artifact = api.artifact("example/graph-src:latest")
        producer_run = artifact.logged_by()
        consumer_runs = artifact.used_by()
        self.assertEqual((producer_run.id, [r.id for r in consumer_runs]), (run.id, [consumer.id]))
        self.assertEqual([a.name for a in producer_run.logged_artifacts()], ["graph-src:v0"])
        self.assertEqual([a.name for a in consumer_runs[0].used_artifacts()], ["graph-src:v0"])

    # docs: registry/create_registry
    def test_create_a_registry(self):
        registry = wandb.Api().create_registry(
            name="Fine_Tuned_Models",
            visibility="restricted",
            organization=self.entity,
            description="a registry of fine-tuned models",
            artifact_types=["model"],
        )
        self.assertEqual(registry.full_name, "wandb-registry-Fine_Tuned_Models")

    # docs: registry/link_version (inside a run)
    def test_link_a_version_inside_a_run(self):
        REGISTRY_NAME = "model"
        COLLECTION_NAME = "DemoModels"
        target_path = f"wandb-registry-{REGISTRY_NAME}/{COLLECTION_NAME}"
        with wandb.init(entity=self.entity, project="linking") as run:
            artifact = wandb.Artifact(name="demo-model", type="model")
            artifact.add_file(local_path="model.h5")
            run.link_artifact(artifact=artifact, target_path=target_path)
        self.assertEqual(wandb.Api().artifact(target_path + ":v0").source_name, "demo-model:v0")

    # docs: registry/link_version (an existing version, outside a run)
    def test_link_an_existing_version(self):
        with wandb.init(project="linking") as run:
            a = wandb.Artifact("existing", type="dataset")
            a.add_file("data/train.csv")
            run.log_artifact(a)
        artifact = wandb.Api().artifact(name=f"{self.entity}/linking/existing:v0")
        artifact.link(target_path="wandb-registry-dataset/Golden", aliases=["production"])
        self.assertEqual(wandb.Api().artifact("wandb-registry-dataset/Golden:production").source_name, "existing:v0")

    # docs: registry/download_use_artifact
    def test_use_a_linked_artifact(self):
        with wandb.init(project="linking") as run:
            run.link_artifact(_model("for-use"), "wandb-registry-model/UseMe")
        REGISTRY, COLLECTION, ALIAS = "model", "UseMe", "latest"
        artifact_name = f"wandb-registry-{REGISTRY}/{COLLECTION}:{ALIAS}"
        run = wandb.init(entity=self.entity, project="consumer")
        registered_artifact = run.use_artifact(artifact_or_name=artifact_name)
        download_path = registered_artifact.download()
        run.finish()
        self.assertTrue(os.path.isfile(os.path.join(download_path, "model.h5")))

    # docs: registry/model_registry (log_model then link_model)
    def test_model_registry_quickstart(self):
        run = wandb.init(project="models_quickstart")
        run.log({"acc": random.random()})
        with open("my_model.h5", "w") as f:
            f.write("Model: " + str(random.random()))
        run.link_model(path="./my_model.h5", registered_model_name="MNIST")
        run.finish()
        self.assertTrue(wandb.Api().artifact_exists("wandb-registry-model/MNIST:latest"))

    # docs: track/log/log-models (log_model, use_model)
    def test_log_and_use_a_model(self):
        run = wandb.init(project="models", entity=self.entity)
        run.log_model(path="model.h5", name="my-model")
        run.finish()
        run = wandb.init(project="models", entity=self.entity)
        downloaded_model_path = run.use_model(name="my-model:latest")
        run.finish()
        self.assertEqual(os.path.basename(downloaded_model_path), "model.h5")

    # docs: track/log/log-summary (define_metric summaries)
    def test_customize_summary_metrics(self):
        random.seed(1)
        run = wandb.init()
        wandb.define_metric("loss", summary="min")
        wandb.define_metric("loss", summary="max")
        wandb.define_metric("acc", summary="min")
        wandb.define_metric("acc", summary="max")
        for i in range(10):
            log_dict = {"loss": random.uniform(0, 1 / (i + 1)), "acc": random.uniform(1 / (i + 1), 1)}
            wandb.log(log_dict)
        run.finish()
        summary = wandb.Api().run(run.path).summary
        self.assertEqual(sorted(summary["loss"]), ["max", "min"])

    # docs: track/log/customize-logging-axes (step_metric)
    def test_custom_x_axis(self):
        with wandb.init() as run:
            run.define_metric("train/step")
            run.define_metric("train/*", step_metric="train/step")
            for i in range(3):
                run.log({"train/step": 2 ** i, "train/loss": 0.1 * i})
            run.log({"train/acc": 0.9})
        self.assertEqual(wandb.Api().run(run.path).history()[-1]["train/step"], 4)

    # docs: runs/tags (at init, while running, and with the public API)
    def test_run_tags(self):
        run = wandb.init(project="tags", tags=["tag1", "tag2"])
        run.tags = run.tags + ("tag3",)
        run.finish()
        api_run = wandb.Api().run(f"{self.entity}/tags/{run.id}")
        api_run.tags.append("tag4")
        api_run.update()
        self.assertEqual(sorted(wandb.Api().run(run.path).tags), ["tag1", "tag2", "tag3", "tag4"])

    # docs: public API runs with MongoDB-style filters
    def test_filter_runs(self):
        for lr in (0.1, 0.01):
            with wandb.init(project="filtered", config={"learning_rate": lr}) as r:
                r.log({"accuracy": lr * 5})
        api = wandb.Api()
        runs = api.runs(path=f"{self.entity}/filtered", filters={"config.learning_rate": {"$gt": 0.05}})
        self.assertEqual([r.config["learning_rate"] for r in runs], [0.1])


def _model(name):
    artifact = wandb.Artifact(name, type="model")
    artifact.add_file("model.h5")
    return artifact
