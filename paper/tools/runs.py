"""Finds and reads the experiment run folders the paper is built from.

A run folder is complete when its manifest has "ended" (or "merged") and its summary.json
exists. The paper takes, for each experiment it needs, the folder named for it in PAPER_RUNS
or else the newest complete folder under the runs directory. Folders that did not finish are
skipped: a folder without an end time (a run that crashed or is still going) is passed over and
named on stderr, and an experiment with no complete folder is an error that says what to run.
"""
import hashlib
import json
import os
import pathlib
import sys


ROOT = pathlib.Path(__file__).resolve().parents[2]


def shown(folder):
    """A folder as the paper prints it: relative to the repository when inside it."""
    resolved = pathlib.Path(folder).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(resolved)


class RunError(Exception):
    """A run folder is missing or unusable; the message says what to run."""


# The command that writes each run folder that `bftgate experiment run` does not.
COMMANDS = {
    "search": "make robustness",
    "search-any": "make robustness",
    "search-colluders": "make robustness",
    "spin-model": "make robustness",
    "chaos": "make chaos",
    "mutation": "make mutation",
    "bench": "make bench",
}


def command_for(experiment):
    """What to run for a run folder of this experiment."""
    return COMMANDS.get(experiment, f"bftgate experiment run {experiment} --size full")


def _load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise RunError(f"cannot read {path}: {e}") from e


class Run:
    """One complete run folder: its manifest, summary and data, read once."""

    def __init__(self, folder):
        self.folder = pathlib.Path(folder)
        self.manifest = _load_json(self.folder / "manifest.json")
        if not isinstance(self.manifest, dict) or "experiment" not in self.manifest:
            raise RunError(f"{self.folder}/manifest.json names no experiment")
        self.experiment = self.manifest["experiment"]
        if "ended" not in self.manifest and "merged" not in self.manifest:
            raise RunError(
                f"{self.folder} did not finish (its manifest has no end time): "
                f"run `{command_for(self.experiment)}` again"
            )
        self.summary = _load_json(self.folder / "summary.json")
        self._records = None

    @property
    def finished(self):
        return self.manifest.get("merged") or self.manifest["ended"]

    def records(self):
        if self._records is None:
            path = self.folder / "data" / f"{self.experiment}.jsonl"
            try:
                with open(path, encoding="utf-8") as f:
                    self._records = [json.loads(line) for line in f if line.strip()]
            except (OSError, ValueError) as e:
                raise RunError(f"cannot read {path}: {e}") from e
        return self._records

    def config_hash(self):
        """The manifest's config hash, or one of its config for the tools that write none."""
        if "config_hash" in self.manifest:
            return self.manifest["config_hash"]
        config = json.dumps(self.manifest.get("config", {}), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(config.encode()).hexdigest()

    def provenance(self):
        seeds = self.manifest.get("seeds", [])
        digest = hashlib.sha256(json.dumps(seeds).encode()).hexdigest()
        return {
            "folder": shown(self.folder),
            "experiment": self.experiment,
            "size": self.manifest.get("size"),
            "runs": self.manifest.get("runs", 0),
            "seeds": len(seeds),
            "first_seed": seeds[0] if seeds else None,
            "seeds_sha256": digest,
            "git_revision": self.manifest.get("git_revision", "?"),
            "config_hash": self.config_hash(),
            "finished": self.finished,
            "wall_s": self.manifest.get("wall_s"),
            "host": self.manifest.get("host", {}),
        }


# A run of part of what its tool does (make mutation BUGS=a,b): used only when named.
SUBSET = "subset"


def _manifest_experiment(folder):
    """(experiment, when it finished or "", its size) from a folder's manifest."""
    try:
        with open(folder / "manifest.json", encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None, None, None
    if not isinstance(manifest, dict):
        return None, None, None
    finished = manifest.get("merged") or manifest.get("ended") or ""
    return manifest.get("experiment"), finished, manifest.get("size")


def select(experiments, runs_dir, explicit):
    """Maps each experiment name to its Run.

    explicit: folders named by the user (PAPER_RUNS); each must be complete and they must not
    name one experiment twice. The rest come from the newest folder under runs_dir.
    """
    chosen = {}
    for folder in explicit:
        run = Run(folder)
        if run.experiment in chosen:
            raise RunError(
                f"PAPER_RUNS names two folders for {run.experiment}: "
                f"{chosen[run.experiment].folder} and {folder}"
            )
        chosen[run.experiment] = run
    newest = {}
    root = pathlib.Path(runs_dir)
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            if not folder.is_dir():
                continue
            name, finished, size = _manifest_experiment(folder)
            if name is None:
                continue
            if not finished or not (folder / "summary.json").is_file():
                print(f"paper: skipping {folder}: the run did not finish", file=sys.stderr)
                continue
            if size == SUBSET:
                print(f"paper: skipping {folder}: a subset run (name it in PAPER_RUNS to use it)", file=sys.stderr)
                continue
            key = (finished, folder.name)
            if name not in newest or key > newest[name][0]:
                newest[name] = (key, folder)
    missing = []
    for name in experiments:
        if name in chosen:
            continue
        if name not in newest:
            missing.append(name)
            continue
        chosen[name] = Run(newest[name][1])
    if missing:
        commands = "; ".join(dict.fromkeys(command_for(name) for name in missing))
        raise RunError(
            f"no run folder under {root} for: {', '.join(missing)}. "
            f"Run them first ({commands}; `make experiments` runs every `bftgate experiment`)"
        )
    return {name: chosen[name] for name in experiments}


def runs_from_environment():
    value = os.environ.get("PAPER_RUNS", "")
    return [part for part in value.replace(",", " ").split() if part]
