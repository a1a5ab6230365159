"""Amphora: versioned datasets and models with their lineage.

A drop-in for the `wandb` artifact calls: `import amphora as wandb`.
Standard library only. Connects through $AMPHORA_BASE_URL/$AMPHORA_API_KEY or the local
server's discovery file.
"""
from . import data_types, errors
from .api import Api
from .artifact import Artifact, ArtifactEntry
from .data_types import Image, PartitionedTable, Table
from .errors import AmphoraError, CommError, Error
from .reference import ArtifactRef, format_reference, parse_reference
from .live_run import Config, Run, Summary
from .sdk import (define_metric, finish, init, link_artifact, link_model, log, log_artifact, log_model, save, use_artifact,
                  use_model)

__version__ = "0.1.0"

# Rebound to the current run's objects by init(); usable (locally) before it.
config = Config()
summary = Summary()
run = None

__all__ = [
    "Api", "Artifact", "ArtifactEntry", "ArtifactRef", "AmphoraError", "CommError", "Error", "errors", "Config", "Image", "PartitionedTable", "Run",
    "Summary", "Table", "config", "data_types", "finish", "format_reference", "init", "log", "log_artifact",
    "parse_reference", "run", "save", "summary", "use_artifact", "define_metric", "link_artifact", "log_model",
    "use_model", "link_model",
]
