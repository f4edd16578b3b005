"""Benchmark: the project's training and pipeline against the plain Keras way and the hardware.

    make bench            (or: python -m mnist_dvc bench [--plain-epochs N])

Needs data/prepared/mnist.npz (run `dvc repro` first). Measures, in one run on this machine:
  1. steady-state seconds per epoch of stages.train with the default params, and with augmentation off;
  2. the same for the plain Keras way (same layers, default compile options, fit with batch size 32);
  3. the compute floor: 6 x weights x samples FLOPs per epoch over a float32 matmul rate measured now;
  4. test accuracy of (1) and (2), and wall time until each first reaches 98.0% test accuracy;
  5. wall time of each stage, of a full `dvc repro -f` (data already downloaded) and of a no-op `dvc repro`;
  6. peak resident memory of each stage;
  7. reading photos: 1-megapixel phone photos (rendered as the photo benchmark renders them) read
     through the photo path and classified in one batch, after the model is loaded, in one process and
     on every core; and one photo read cold from the command line (`python -m mnist_dvc predict`).

    python -m mnist_dvc bench --photos-only    (7 alone, in about a minute; needs models/model.keras)
Prints a table and writes reports/benchmark.json. The test set is scored after each epoch here only to
time the 98% mark; that time is not counted and nothing is chosen from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import graphlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import yaml
from PIL import Image

from mnist_dvc import params
from mnist_dvc.files import write_text_atomic
from mnist_dvc.mnist import load_mnist

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "reports" / "benchmark.json"
TARGET_ACCURACY = 0.98
STEADY_FROM_EPOCH = 2  # epochs before this one include tracing and warm-up


def epoch_recorder(x_test: np.ndarray, y_test: np.ndarray):
    """A Keras callback that records each epoch's training seconds and the test accuracy after it."""
    from tensorflow import keras

    class EpochRecorder(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self.test_accuracy: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)
            logits = self.model.predict(x_test, batch_size=2048, verbose=0)
            self.test_accuracy.append(float((logits.argmax(axis=1) == y_test).mean()))

    return EpochRecorder()


def summarize(recorder, setup_seconds: float) -> dict:
    steady = recorder.seconds[STEADY_FROM_EPOCH:] or recorder.seconds
    elapsed = setup_seconds + np.cumsum(recorder.seconds)
    reached = [i for i, accuracy in enumerate(recorder.test_accuracy) if accuracy >= TARGET_ACCURACY]
    return {
        "epochs": len(recorder.seconds),
        "seconds_per_epoch": round(float(np.median(steady)), 4),
        "test_accuracy": round(recorder.test_accuracy[-1], 4),
        "seconds_to_98": round(float(elapsed[reached[0]]), 2) if reached else None,
        "epoch_reaching_98": reached[0] + 1 if reached else None,
    }


def time_project(arrays: dict, config: params.TrainParams) -> dict:
    from mnist_dvc import network

    recorder = epoch_recorder(arrays["x_test"], arrays["y_test"])
    started = time.perf_counter()
    network.train(arrays, config, extra_callbacks=(recorder,))
    total = time.perf_counter() - started
    # Everything outside the epochs (split, dataset, compile, final validation) counts as set-up.
    return summarize(recorder, setup_seconds=total - sum(recorder.seconds)) | {"fit_seconds": round(total, 2)}


def time_plain_keras(arrays: dict, epochs: int) -> dict:
    """The original write-up's way: compile with defaults, fit(x, y, epochs=...) with batch size 32."""
    from tensorflow import keras

    model = keras.Sequential([
        keras.Input((28, 28)), keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"), keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    recorder = epoch_recorder(arrays["x_test"], arrays["y_test"])
    started = time.perf_counter()
    model.fit(arrays["x_train"], arrays["y_train"], epochs=epochs, callbacks=[recorder], verbose=0)
    total = time.perf_counter() - started
    return summarize(recorder, setup_seconds=0.0) | {"fit_seconds": round(total, 2)}


def matmul_rate(batch: int, layer_shapes: list[tuple[int, int]], repeats: int = 200) -> float:
    """Best float32 FLOP/s of numpy matmuls at the network's layer shapes."""
    rng = np.random.default_rng(0)
    best = 0.0
    for _ in range(3):
        flops, seconds = 0.0, 0.0
        for fan_in, fan_out in layer_shapes:
            a = rng.random((batch, fan_in), dtype=np.float32)
            b = rng.random((fan_in, fan_out), dtype=np.float32)
            np.dot(a, b)
            started = time.perf_counter()
            for _ in range(repeats):
                np.dot(a, b)
            seconds += time.perf_counter() - started
            flops += 2.0 * batch * fan_in * fan_out * repeats
        best = max(best, flops / seconds)
    return best


def compute_floor(config: params.TrainParams, samples: int) -> dict:
    shapes = params.dense_layer_shapes(config.hidden_units)
    weights = params.weight_count(config.hidden_units)
    flops = 6.0 * weights * samples
    rate = matmul_rate(config.batch_size, shapes)
    return {"weights": weights, "samples": samples, "flops_per_epoch": flops,
            "matmul_gflops": round(rate / 1e9, 1), "seconds_per_epoch": round(flops / rate, 4)}


def stage_commands(dvc_yaml: Path) -> dict[str, list[str]]:
    """Each stage's command, every stage after the stages whose outputs it reads."""
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    made_by = {next(iter(out)) if isinstance(out, dict) else out: name
               for name, stage in stages.items() for out in stage.get("outs", [])}
    order = graphlib.TopologicalSorter({
        name: {maker for dep in stage.get("deps", []) for path, maker in made_by.items()
               if dep == path or dep.startswith(path + "/")}
        for name, stage in stages.items()})
    return {name: shlex.split(stages[name]["cmd"]) for name in order.static_order()}


def time_pipeline(workdir: Path) -> dict:
    """Copy the project, then time each stage, a forced full repro and a no-op repro."""
    listing = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    for name in listing.stdout.split():
        if (REPO / name).is_file():
            (workdir / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, workdir / name)
    # A commit, as in a real clone: DVCLive, in the train stage, reads the current revision.
    for args in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "copy"]):
        subprocess.run(args, cwd=workdir, check=True)
    for stage in ("fetch", "normalize"):  # fetch reads the download cache: the data is already here
        run_measured([sys.executable, "-m", f"stages.{stage}"], workdir)
    stages = {}
    for stage, command in stage_commands(workdir / "dvc.yaml").items():
        seconds, peak_mb = run_measured(command, workdir)
        stages[stage] = {"seconds": round(seconds, 2), "peak_rss_mb": peak_mb}
    full, _ = run_measured(["dvc", "repro", "-f"], workdir)
    noop = min(run_measured(["dvc", "repro"], workdir)[0] for _ in range(3))
    return {"stages": stages, "full_repro_seconds": round(full, 2), "noop_repro_seconds": round(noop, 2)}


# Runs a command from a small fresh interpreter and records its peak memory: measured from this process,
# the child would count the benchmark's own memory (TensorFlow, the data) that it inherited at fork.
MEASURE = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.call(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(json.dumps([time.perf_counter() - started, peak, code]))
"""


def run_measured(args: list[str], cwd: Path) -> tuple[float, int]:
    """Run a command; return its wall seconds and the peak resident memory (MB) of it and its children."""
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        subprocess.run([sys.executable, "-c", MEASURE, result.name, *args], cwd=cwd, env=env, check=True)
        seconds, peak_kb, code = json.loads(Path(result.name).read_text())
    if code:
        raise SystemExit(f"{' '.join(args)} exited {code}; run it by hand in a copy of the project to see why")
    return seconds, peak_kb // 1024


PHOTO_SIZE = (1155, 866)  # 1.0 megapixel, 4:3


def photo_files(folder: Path, count: int) -> list[Path]:
    """`count` JPEG phone photos of 1 to 5 test digits, 1 megapixel each, written to `folder`."""
    from mnist_dvc.render import render_photo

    arrays = load_mnist(REPO / "data/raw/mnist.npz", normalized=False, splits=("test",))
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        picked = rng.choice(len(arrays["y_test"]), size=1 if index % 2 == 0 else int(rng.integers(3, 6)))
        rendered = render_photo(arrays["x_test"][picked], tuple(int(d) for d in arrays["y_test"][picked]),
                                np.random.default_rng([0, index]))
        path = folder / f"photo-{index:03d}.jpg"
        rendered.image.convert("RGB").resize(PHOTO_SIZE, Image.Resampling.BICUBIC).save(path, quality=90)
        paths.append(path)
    return paths


def found_in(path: Path):
    from mnist_dvc.errors import UserError
    from mnist_dvc.photo import Found, read_photo

    try:
        return read_photo(path, path.name).found
    except UserError:
        return Found([])


def time_photo_reading(count: int = 200) -> dict:
    """Photos per second through read_photo and one batched classification, with the model loaded."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from mnist_dvc.inference import load_reader
    from mnist_dvc.reading import read_photos

    model = load_reader(REPO / "models/model.keras")
    workers = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as folder:
        paths = photo_files(Path(folder), count)
        read_photos(model, [(path.name, found_in(path)) for path in paths[:5]])  # warm up
        started = time.perf_counter()
        one = [(path.name, found_in(path)) for path in paths]
        read_photos(model, one)
        one_process = time.perf_counter() - started
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            list(pool.map(found_in, paths[:workers]))  # the workers started and their imports done
            started = time.perf_counter()
            every = list(pool.map(found_in, paths, chunksize=4))
            read_photos(model, list(zip([path.name for path in paths], every, strict=True)))
            all_cores = time.perf_counter() - started
        cold, _ = run_measured([sys.executable, "-m", "mnist_dvc", "predict", str(paths[1])], REPO)
    return {"photos": count, "megapixels": round(PHOTO_SIZE[0] * PHOTO_SIZE[1] / 1e6, 2), "workers": workers,
            "photos_per_second_one_process": round(count / one_process, 1),
            "photos_per_second_all_cores": round(count / all_cores, 1),
            "cold_predict_one_photo_seconds": round(cold, 2)}


def photo_table(photos: dict) -> str:
    return "\n".join([
        "| measure | value |", "|---|---|",
        f"| reading {photos['megapixels']}-MP photos, model loaded: one process | "
        f"{photos['photos_per_second_one_process']} photos/s |",
        f"| the same on {photos['workers']} cores | {photos['photos_per_second_all_cores']} photos/s |",
        f"| one photo, cold: `python -m mnist_dvc predict photo.jpg` | {photos['cold_predict_one_photo_seconds']} s |",
    ])


def table(results: dict) -> str:
    project, like, plain, floor = results["project"], results["project_no_augmentation"], results["plain_keras"], \
        results["compute_floor"]
    pipeline = results["pipeline"]

    def reach(row: dict) -> str:
        return f"{row['seconds_to_98']} s (epoch {row['epoch_reaching_98']})" if row["seconds_to_98"] else "not reached"

    lines = [
        "| measure | value |", "|---|---|",
        f"| project, default params: s/epoch (steady) | {project['seconds_per_epoch']} |",
        f"| project, augmentation off: s/epoch (steady) | {like['seconds_per_epoch']} |",
        f"| plain Keras (batch 32, defaults): s/epoch (steady) | {plain['seconds_per_epoch']} |",
        f"| compute floor: s/epoch ({floor['flops_per_epoch'] / 1e9:.1f} GFLOP at {floor['matmul_gflops']} GFLOP/s)"
        f" | {floor['seconds_per_epoch']} |",
        f"| ratio project (augmentation off) / plain Keras | {results['ratio_project_to_plain']:.3f} |",
        f"| ratio project (augmentation off) / compute floor | {results['ratio_project_to_floor']:.2f} |",
        f"| test accuracy: project defaults ({project['epochs']} epochs) | {project['test_accuracy']:.4f} |",
        f"| test accuracy: project, augmentation off ({like['epochs']} epochs) | {like['test_accuracy']:.4f} |",
        f"| test accuracy: plain Keras ({plain['epochs']} epochs) | {plain['test_accuracy']:.4f} |",
        f"| time to 98.0% test accuracy: project defaults | {reach(project)} |",
        f"| time to 98.0% test accuracy: plain Keras | {reach(plain)} |",
        f"| full `dvc repro -f`, data already downloaded | {pipeline['full_repro_seconds']} s |",
        f"| no-op `dvc repro` | {pipeline['noop_repro_seconds']} s |",
    ]
    lines += [f"| stage {name}: wall time, peak memory | {row['seconds']} s, {row['peak_rss_mb']} MB |"
              for name, row in pipeline["stages"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plain-epochs", type=int, default=15, help="epochs of the plain Keras run (default 15)")
    parser.add_argument("--skip-pipeline", action="store_true", help="time training only")
    parser.add_argument("--photos-only", action="store_true", help="time reading photos only")
    args = parser.parse_args(argv)
    if args.photos_only:
        photos = time_photo_reading()
        print(photo_table(photos))
        previous = json.loads(OUTPUT.read_text()) if OUTPUT.is_file() else {}
        write_text_atomic(OUTPUT, json.dumps({**previous, "photo_reading": photos}, indent=2) + "\n")
        print(f"wrote {OUTPUT.relative_to(REPO)}")
        return

    arrays = load_mnist(REPO / "data/prepared/mnist.npz", normalized=True)
    config = params.load("train", REPO / "params.yaml")
    results: dict = {"machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                                 "python": platform.python_version()}}
    print(f"plain Keras, {args.plain_epochs} epochs ...", flush=True)
    results["plain_keras"] = time_plain_keras(arrays, args.plain_epochs)
    print(f"project, default params ({config.epochs} epochs) ...", flush=True)
    results["project"] = time_project(arrays, config)
    like_for_like = dataclasses.replace(config, **dict.fromkeys(params.AUGMENTATIONS, 0))
    print("project, augmentation off ...", flush=True)
    results["project_no_augmentation"] = time_project(arrays, like_for_like)
    samples = len(arrays["y_train"]) - round(len(arrays["y_train"]) * config.validation_fraction)
    results["compute_floor"] = compute_floor(config, samples)

    import tensorflow as tf

    results["machine"]["tensorflow"] = tf.__version__
    like = results["project_no_augmentation"]["seconds_per_epoch"]
    results["ratio_project_to_plain"] = round(like / results["plain_keras"]["seconds_per_epoch"], 4)
    results["ratio_project_to_floor"] = round(like / results["compute_floor"]["seconds_per_epoch"], 3)
    if not args.skip_pipeline:
        print("pipeline stages, full and no-op dvc repro ...", flush=True)
        with tempfile.TemporaryDirectory() as workdir:
            results["pipeline"] = time_pipeline(Path(workdir))
        print(table(results))
    print("reading photos ...", flush=True)
    results["photo_reading"] = time_photo_reading()
    print(photo_table(results["photo_reading"]))
    write_text_atomic(OUTPUT, json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUTPUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
