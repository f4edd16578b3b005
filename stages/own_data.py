"""Stage 0, own_data: the folder of your own digits, data/own/, as a DVC-tracked output.

The stage makes sure the folder exists (with a README on its layout); what you put in it is kept
(the output is `persist: true`). Because data/own/ is a cached output, `dvc repro` notices every sample
you add or remove and reruns what depends on them, `dvc push` sends the samples to the remote and
`dvc pull` brings them to a teammate; a fresh clone starts with an empty folder.

DVC stores what a symbolic link points to, so a link in data/own/ (say to /etc/passwd) would land in
the cache and be pushed. Before running this stage, `dvc repro` even replaces each link in its persisted
output by a copy of what it points to, so the stage refuses two things, and a failed stage records nothing:
symbolic links and every other entry that is not a plain file or folder (FIFOs, devices, sockets), and
files that are not images at all (no PNG, JPEG, WebP, GIF, BMP or TIFF header) — such as that copy. An
image that has an image's header but is damaged is only a warning, later, where it is read.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from mnist_dvc.errors import UserError, printable, run_main
from mnist_dvc.files import write_text_atomic
from mnist_dvc.own import DIGITS, OWN, OWN_README, labelled_samples
from mnist_dvc.photo.load import ALLOWED_FORMATS

KINDS = {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFCHR: "a device",
         stat.S_IFBLK: "a device", stat.S_IFSOCK: "a socket"}
SHOWN = 5  # entries named in the error; the rest are counted


def odd_entries(root: Path) -> list[str]:
    """Every entry under `root` (itself included) that is neither a regular file nor a folder, described,
    without following any symbolic link."""
    found = []
    for path in [root, *sorted(walk(root))]:
        mode = os.lstat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            kind = KINDS.get(stat.S_IFMT(mode), "not a regular file")
            target = f" to {os.readlink(path)}" if stat.S_ISLNK(mode) else ""
            found.append(f"{path} ({kind}{target})")
    return found


def walk(root: Path) -> list[Path]:
    """Every path under `root`; os.walk does not descend into linked folders, and lists the links."""
    paths = []
    for folder, folders, files in os.walk(root):
        paths += [Path(folder, name) for name in (*folders, *files)]
    return paths


def not_images(root: Path) -> list[str]:
    """Regular files under `root` whose first bytes are no allowed image format's (the README aside)."""
    found = []
    for path in sorted(walk(root)):
        if path.is_file() and not path.is_symlink() and path != root / "README.md" and not looks_like_image(path):
            found.append(f"{path} (not an image)")
    return found


def looks_like_image(path: Path) -> bool:
    """Whether the file starts as an allowed image format does; only its header is read, nothing decoded."""
    try:
        with Image.open(path, formats=ALLOWED_FORMATS):
            return True
    except UnidentifiedImageError:
        return False
    except Exception:  # an image's header, damaged further on: a warning where it is read
        return True


def stray_folders(root: Path) -> list[Path]:
    """Folders directly in `root` that are not a digit 0-9: their images are neither samples nor classified."""
    return sorted(path for path in root.iterdir() if path.is_dir() and path.name not in DIGITS)


def check_folder(root: Path) -> None:
    """UserError naming the entries DVC must not store; a warning for each folder that is not a digit."""
    odd = odd_entries(root)
    odd += [] if odd else not_images(root)
    if odd:
        more = f" and {len(odd) - SHOWN} more" if len(odd) > SHOWN else ""
        raise UserError(f"{root} holds {len(odd)} entr{'y' if len(odd) == 1 else 'ies'} that DVC must not store: "
                        f"{', '.join(odd[:SHOWN])}{more}; only plain image files may be there (DVC would store what "
                        "a link points to, and push it): remove them, or put the real images in, then run again")
    for folder in stray_folders(root):
        print(f"warning: {printable(str(folder))}/ is not a digit folder 0-9: its images are neither labelled "
              "samples nor classified", file=sys.stderr)


def main() -> None:
    if OWN.exists() or OWN.is_symlink():
        check_folder(OWN)
    readme = OWN / "README.md"
    if not readme.is_file() or readme.read_text(encoding="utf-8") != OWN_README:
        write_text_atomic(readme, OWN_README)
    print(f"own_data: {OWN}/ holds {len(labelled_samples())} labelled samples")


if __name__ == "__main__":
    run_main(main)
