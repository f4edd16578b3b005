"""Stage 0, own_data: the folder of your own digits, data/own/, as a DVC-tracked output.

The stage only makes sure the folder exists (with a README on its layout); what you put in it is kept
(the output is `persist: true`). Because data/own/ is a cached output, `dvc repro` notices every sample
you add or remove and reruns what depends on them, `dvc push` sends the samples to the remote and
`dvc pull` brings them to a teammate; a fresh clone starts with an empty folder.
"""

from __future__ import annotations

from mnist_dvc.errors import run_main
from mnist_dvc.files import write_text_atomic
from mnist_dvc.own import OWN, OWN_README, labelled_samples


def main() -> None:
    readme = OWN / "README.md"
    if not readme.is_file() or readme.read_text(encoding="utf-8") != OWN_README:
        write_text_atomic(readme, OWN_README)
    print(f"own_data: {OWN}/ holds {len(labelled_samples())} labelled samples")


if __name__ == "__main__":
    run_main(main)
