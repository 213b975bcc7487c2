"""Errors a user can act on, and the wrapper every command line runs under.

A `SoftdimoError` names the file or config key at fault and says what to do; a command line prints it as one
line and exits with status 2 instead of showing a traceback. Anything else is a bug and keeps its traceback.
"""
import argparse
import sys


class SoftdimoError(Exception):
    """A problem the user can fix; the message names the file or key and what to do about it."""


class ArtefactError(SoftdimoError):
    """A file a job reads is missing, unreadable or not what the job expects."""


def read_npz(path, keys: tuple[str, ...] = ("arr_0",)) -> dict:
    """The named arrays of a .npz file; a missing, truncated or foreign file is an ArtefactError naming it."""
    import numpy as np  # noqa: PLC0415 (kept out of the import of every command line)

    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise ArtefactError(f"{path} has no array {missing[0]!r} (it holds {', '.join(f.files) or 'none'}): "
                                    "not the file this job expects; delete it and rerun the rule that makes it")
            return {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise ArtefactError(f"{path} not found; make it with `snakemake --cores all {path}`") from None
    except ArtefactError:
        raise
    except Exception as error:  # BadZipFile, OSError, ValueError of a damaged archive
        raise ArtefactError(f"{path} is unreadable ({type(error).__name__}: {str(error)[:120]}); it is truncated or "
                            "corrupt: delete it and rerun the workflow to rebuild it") from None


def cli(main) -> None:
    """Run a command line's main(): a SoftdimoError becomes 'error: <message>' and exit status 2."""
    try:
        main()
    except SoftdimoError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)


def whole_number(minimum: int, what: str):
    """argparse type: a whole number >= minimum; `what` names it in the refusal."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{what} is at least {minimum}, got {value}")
        return value
    return parse


positive_int = whole_number(1, "a count")  # a step count, an image count
nonnegative_int = whole_number(0, "a seed")
