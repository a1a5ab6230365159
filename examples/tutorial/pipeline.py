"""The "Track models and datasets" tutorial pipeline, in plain Python, against an Amphora server.

    load-data -> mnist-raw -> preprocess-data -> mnist-preprocess -> train -> trained-model -> report
                              initialize -> convnet ---------------^

Same calls, artifact names and job types as the tutorial (`import amphora as wandb`). Instead of
torch/torchvision it uses a small synthetic "MNIST" (8x8 images of 10 noisy digit prototypes) and a
softmax classifier in pure Python, saved with pickle/json, so it runs in seconds with no downloads.

    PYTHONPATH=python python3 examples/tutorial/pipeline.py [--dir WORKDIR]

Files (./artifacts/..., *.pth) are written under WORKDIR (default: examples/tutorial/work).
"""
import argparse
import json
import math
import os
import pickle
import random
import sys

import amphora as wandb

# Deterministic behaviour
random.seed(0)

# Data parameters
num_classes = 10
input_shape = (1, 8, 8)


class TensorDataset:
    """(x, y) pairs, like torch.utils.data.TensorDataset."""

    def __init__(self, x, y):
        self.tensors = (x, y)

    def __len__(self):
        return len(self.tensors[1])

    def __getitem__(self, i):
        return self.tensors[0][i], self.tensors[1][i]


def load(train_size=500):
    """
    # Load the data: a synthetic stand-in for torchvision.datasets.MNIST (integers 0-255)
    """
    side = input_shape[1]
    rng = random.Random(0)
    prototypes = [[rng.random() for _ in range(side * side)] for _ in range(num_classes)]

    def sample(n):
        xs, ys = [], []
        for _ in range(n):
            label = rng.randrange(num_classes)
            pixels = [min(255, max(0, int(255 * (p + rng.gauss(0, 0.25))))) for p in prototypes[label]]
            xs.append([pixels[r * side:(r + 1) * side] for r in range(side)])
            ys.append(label)
        return xs, ys

    x_train, y_train = sample(train_size + 100)
    x_test, y_test = sample(100)

    # split off a validation set for hyperparameter tuning
    x_train, x_val = x_train[:train_size], x_train[train_size:]
    y_train, y_val = y_train[:train_size], y_train[train_size:]

    training_set = TensorDataset(x_train, y_train)
    validation_set = TensorDataset(x_val, y_val)
    test_set = TensorDataset(x_test, y_test)

    datasets = [training_set, validation_set, test_set]

    return datasets


def load_and_log():

    # 🚀 start a run, with a type to label it and a project it can call home
    with wandb.init(project="artifacts-example", job_type="load-data") as run:

        datasets = load()  # separate code for loading the datasets
        names = ["training", "validation", "test"]

        # 🏺 create our Artifact
        raw_data = wandb.Artifact(
            "mnist-raw", type="dataset",
            description="Raw MNIST dataset, split into train/val/test",
            metadata={"source": "synthetic stand-in for torchvision.datasets.MNIST",
                      "sizes": [len(dataset) for dataset in datasets]})

        for name, data in zip(names, datasets):
            # 🐣 Store a new file in the artifact, and write something into its contents.
            with raw_data.new_file(name + ".pt", mode="wb") as file:
                x, y = data.tensors
                pickle.dump((x, y), file)

        # ✍️ Save the artifact to the server.
        run.log_artifact(raw_data)


def preprocess(dataset, normalize=True, expand_dims=True):
    """
    ## Prepare the data
    """
    x, y = dataset.tensors

    if normalize:
        # Scale images to the [0, 1] range
        x = [[[v / 255 for v in row] for row in image] for image in x]

    if expand_dims:
        # Make sure images have shape (1, 8, 8)
        x = [[image] for image in x]

    return TensorDataset(x, y)


def preprocess_and_log(steps):

    with wandb.init(project="artifacts-example", job_type="preprocess-data") as run:

        processed_data = wandb.Artifact(
            "mnist-preprocess", type="dataset",
            description="Preprocessed MNIST dataset",
            metadata=steps)

        # ✔️ declare which artifact we'll be using
        raw_data_artifact = run.use_artifact('mnist-raw:latest')

        # 📥 if need be, download the artifact
        raw_dataset = raw_data_artifact.download()

        for split in ["training", "validation", "test"]:
            raw_split = read(raw_dataset, split)
            processed_dataset = preprocess(raw_split, **steps)

            with processed_data.new_file(split + ".pt", mode="wb") as file:
                x, y = processed_dataset.tensors
                pickle.dump((x, y), file)

        run.log_artifact(processed_data)


def read(data_dir, split):
    filename = split + ".pt"
    with open(os.path.join(data_dir, filename), "rb") as f:
        x, y = pickle.load(f)

    return TensorDataset(x, y)


class ConvNet:
    """A stand-in for the tutorial's ConvNet: average pooling, then a linear softmax layer.
    Takes the same constructor arguments so the model config travels the same way."""

    def __init__(self, hidden_layer_sizes=[32, 64],
                 kernel_sizes=[3],
                 activation="ReLU",
                 pool_sizes=[2],
                 dropout=0.5,
                 num_classes=num_classes,
                 input_shape=input_shape):
        self.pool = pool_sizes[0]
        self.num_classes = num_classes
        side = input_shape[1] // self.pool
        self.fc_input_dims = side * side
        rng = random.Random(1)
        self.weights = [[rng.gauss(0, 0.01) for _ in range(self.fc_input_dims)] for _ in range(num_classes)]
        self.bias = [0.0] * num_classes

    def features(self, image):
        plane = image[0] if isinstance(image[0][0], list) else image
        p = self.pool
        out = []
        for r in range(0, len(plane) - p + 1, p):
            for c in range(0, len(plane[0]) - p + 1, p):
                out.append(sum(plane[r + i][c + j] for i in range(p) for j in range(p)) / (p * p))
        return out

    def __call__(self, image):
        f = self.features(image)
        return [sum(w * v for w, v in zip(ws, f)) + b for ws, b in zip(self.weights, self.bias)]

    def state_dict(self):
        return {"weights": self.weights, "bias": self.bias}

    def load_state_dict(self, state):
        self.weights, self.bias = state["weights"], state["bias"]


def softmax(logits):
    m = max(logits)
    e = [math.exp(v - m) for v in logits]
    s = sum(e)
    return [v / s for v in e]


def cross_entropy(logits, target):
    return -math.log(max(softmax(logits)[target], 1e-12))


def build_model_and_log(config):
    with wandb.init(project="artifacts-example", job_type="initialize", config=config) as run:
        config = wandb.config

        model = ConvNet(**config)

        model_artifact = wandb.Artifact(
            "convnet", type="model",
            description="Simple AlexNet style CNN",
            metadata=dict(config))

        with open("initialized_model.pth", "w") as f:
            json.dump(model.state_dict(), f)
        # ➕ another way to add a file to an Artifact
        model_artifact.add_file("initialized_model.pth")

        wandb.save("initialized_model.pth")

        run.log_artifact(model_artifact)


def batches(dataset, batch_size):
    x, y = dataset.tensors
    for i in range(0, len(y), batch_size):
        yield x[i:i + batch_size], y[i:i + batch_size]


def train(model, train_loader, valid_loader, config):
    lr = 4.0 if config.optimizer == "Adam" else 1.0
    example_ct = 0
    n_batches = math.ceil(len(train_loader) / config.batch_size)
    for epoch in range(config.epochs):
        for batch_idx, (data, target) in enumerate(batches(train_loader, config.batch_size)):
            grad_w = [[0.0] * model.fc_input_dims for _ in range(model.num_classes)]
            grad_b = [0.0] * model.num_classes
            loss = 0.0
            for image, label in zip(data, target):
                f = model.features(image)
                logits = [sum(w * v for w, v in zip(ws, f)) + b for ws, b in zip(model.weights, model.bias)]
                probs = softmax(logits)
                loss += -math.log(max(probs[label], 1e-12))
                for k in range(model.num_classes):
                    g = probs[k] - (1.0 if k == label else 0.0)
                    grad_b[k] += g
                    row = grad_w[k]
                    for j, v in enumerate(f):
                        row[j] += g * v
            n = len(data)
            for k in range(model.num_classes):
                model.bias[k] -= lr * grad_b[k] / n
                for j in range(model.fc_input_dims):
                    model.weights[k][j] -= lr * grad_w[k][j] / n
            loss /= n

            example_ct += len(data)

            if batch_idx % config.batch_log_interval == 0:
                print('Train Epoch: {} [{}/{} ({:.0%})]\tLoss: {:.6f}'.format(
                    epoch, batch_idx * len(data), len(train_loader),
                    batch_idx / n_batches, loss))

                train_log(loss, example_ct, epoch)

        # evaluate the model on the validation set at each epoch
        loss, accuracy = test(model, valid_loader)
        test_log(loss, accuracy, example_ct, epoch)


def test(model, test_loader):
    test_loss = 0
    correct = 0
    x, y = test_loader.tensors
    for data, target in zip(x, y):
        output = model(data)
        test_loss += cross_entropy(output, target)  # sum up batch loss
        pred = output.index(max(output))  # get the index of the max log-probability
        correct += int(pred == target)

    test_loss /= len(test_loader)

    accuracy = 100. * correct / len(test_loader)

    return test_loss, accuracy


def train_log(loss, example_ct, epoch):
    loss = float(loss)

    # where the magic happens
    wandb.log({"epoch": epoch, "train/loss": loss}, step=example_ct)
    print(f"Loss after " + str(example_ct).zfill(5) + f" examples: {loss:.3f}")


def test_log(loss, accuracy, example_ct, epoch):
    loss = float(loss)
    accuracy = float(accuracy)

    # where the magic happens
    wandb.log({"epoch": epoch, "validation/loss": loss, "validation/accuracy": accuracy}, step=example_ct)
    print(f"Loss/accuracy after " + str(example_ct).zfill(5) + f" examples: {loss:.3f}/{accuracy:.3f}")


def evaluate(model, test_loader):
    """
    ## Evaluate the trained model
    """

    loss, accuracy = test(model, test_loader)
    highest_losses, hardest_examples, true_labels, predictions = get_hardest_k_examples(model, test_loader)

    return loss, accuracy, highest_losses, hardest_examples, true_labels, predictions


def get_hardest_k_examples(model, testing_set, k=32):
    x, y = testing_set.tensors
    # get the losses and predictions for each item in the dataset
    scored = []
    for i, (data, target) in enumerate(zip(x, y)):
        output = model(data)
        scored.append((cross_entropy(output, target), i, output.index(max(output))))
    scored.sort()
    hardest = scored[-k:]

    highest_k_losses = [loss for loss, _, _ in hardest]
    hardest_k_examples = [x[i] for _, i, _ in hardest]
    true_labels = [y[i] for _, i, _ in hardest]
    predicted_labels = [pred for _, _, pred in hardest]

    return highest_k_losses, hardest_k_examples, true_labels, predicted_labels


def train_and_log(config):

    with wandb.init(project="artifacts-example", job_type="train", config=config) as run:
        config = wandb.config

        data = run.use_artifact('mnist-preprocess:latest')
        data_dir = data.download()

        training_dataset = read(data_dir, "training")
        validation_dataset = read(data_dir, "validation")

        model_artifact = run.use_artifact("convnet:latest")
        model_dir = model_artifact.download()
        model_path = os.path.join(model_dir, "initialized_model.pth")
        model_config = model_artifact.metadata
        config.update(model_config)

        model = ConvNet(**model_config)
        with open(model_path) as f:
            model.load_state_dict(json.load(f))

        train(model, training_dataset, validation_dataset, config)

        model_artifact = wandb.Artifact(
            "trained-model", type="model",
            description="Trained NN model",
            metadata=dict(model_config))

        with open("trained_model.pth", "w") as f:
            json.dump(model.state_dict(), f)
        model_artifact.add_file("trained_model.pth")
        wandb.save("trained_model.pth")

        run.log_artifact(model_artifact)

    return model


def evaluate_and_log(config=None):

    with wandb.init(project="artifacts-example", job_type="report", config=config) as run:
        data = run.use_artifact('mnist-preprocess:latest')
        data_dir = data.download()
        testing_set = read(data_dir, "test")

        model_artifact = run.use_artifact("trained-model:latest")
        model_dir = model_artifact.download()
        model_path = os.path.join(model_dir, "trained_model.pth")
        model_config = model_artifact.metadata

        model = ConvNet(**model_config)
        with open(model_path) as f:
            model.load_state_dict(json.load(f))

        loss, accuracy, highest_losses, hardest_examples, true_labels, preds = evaluate(model, testing_set)

        run.summary.update({"loss": loss, "accuracy": accuracy})

        wandb.log({"high-loss-examples":
            [wandb.Image(hard_example, caption=str(int(pred)) + "," + str(int(label)))
             for hard_example, pred, label in zip(hardest_examples, preds, true_labels)]})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "work"),
                        help="working folder for ./artifacts and model files")
    args = parser.parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    os.chdir(args.dir)

    load_and_log()

    steps = {"normalize": True,
             "expand_dims": True}

    preprocess_and_log(steps)

    model_config = {"hidden_layer_sizes": [32, 64],
                    "kernel_sizes": [3],
                    "activation": "ReLU",
                    "pool_sizes": [2],
                    "dropout": 0.5,
                    "num_classes": 10}

    build_model_and_log(model_config)

    train_config = {"batch_size": 128,
                    "epochs": 5,
                    "batch_log_interval": 1,
                    "optimizer": "Adam"}

    train_and_log(train_config)
    evaluate_and_log()
    print("Done: mnist-raw -> mnist-preprocess -> trained-model logged with their lineage in project artifacts-example.")


if __name__ == "__main__":
    sys.exit(main())
