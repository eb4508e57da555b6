"""Unpack an untrusted submission archive into a fresh folder, keeping only plain files and folders.

Submissions arrive as folders or as archives (.zip, .tar, .tar.gz/.tgz, .tar.bz2, .tar.xz), and an
archive is learner-controlled input like everything else in a submission. Extraction is where the
classic attacks live (``../`` paths, absolute paths, symlinks and hardlinks pointing out of the
folder, device files, setuid bits, zip bombs, names that differ between tools), so this module
reads members one by one with :mod:`zipfile` and :mod:`tarfile` and writes each one itself; it
never calls ``extractall`` and does not rely on tarfile's extraction filters, whose behaviour has
changed between Python releases.

What comes out is only regular files (mode 0o644) and folders (mode 0o755), never the archive's
permissions, owners or link targets. An entry that is not acceptable is skipped with one
learner-facing message in :attr:`Unpacked.rejected`; an archive that cannot be used at all (not an
archive, damaged, password-protected, too big once expanded, too many entries, empty) raises
:class:`ArchiveError`, whose message says what is wrong and what to do. Sizes are enforced on the
bytes actually decompressed, never on what a header claims.

A git repository is graded from its work tree like any other folder: its ``.git`` directory is
never read, and no git command ever runs on a learner's repository. A hostile ``.git/config`` can
run code the moment git touches the repository (``core.fsmonitor``, ``core.hooksPath`` and hooks,
``core.sshCommand``, clean/smudge filters), so "just ask git for the files" is not safe.
"""

from __future__ import annotations

import bz2
import contextlib
import enum
import functools
import gzip
import io
import lzma
import os
import re
import shutil
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, Protocol

from . import textsafe

KiB: Final = 1024
MiB: Final = 1024 * KiB

FILE_MODE: Final = 0o644
DIR_MODE: Final = 0o755

_CHUNK = 64 * KiB
_BLOCK = 512
# Bytes an archive may hold besides file contents, per entry (headers, long-name records, padding):
# bounds the size of the archive file itself and of a tar stream's metadata.
_ENTRY_OVERHEAD = 8 * KiB
_SLACK = 64 * KiB

# C0 controls (tab and newline included: no file name needs them), DEL and C1 controls.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BZIP2_MAGIC = re.compile(rb"BZh[1-9](?:1AY&SY|\x17rE8P\x90)")
_MAX_NAME_BYTES = 255
_SHOWN_CHARS = 120

_ZIP_ENCRYPTED = 0x1
_ZIP_STRONG_ENCRYPTION = 0x40

SUPPORTED = ".zip, .tar, .tar.gz (.tgz), .tar.bz2 or .tar.xz"


@dataclass(frozen=True)
class Limits:
    """How much an archive may hold: generous for source code, small enough that refusing a hostile
    archive (a bomb, a hundred thousand entries, a maze of folders) costs little time and memory."""

    max_entries: int = 2000
    max_total_bytes: int = 20 * MiB
    max_file_bytes: int = 2 * MiB
    max_depth: int = 20


@dataclass(frozen=True)
class Rejection:
    """An entry that was left out: its name in the archive (as stored) and why."""

    name: str
    reason: str

    @property
    def message(self) -> str:
        return f"rejected '{_shown(self.name)}': {self.reason}"


@dataclass(frozen=True)
class Unpacked:
    """Where the submission now is, and the entries that were left out."""

    folder: Path
    rejections: tuple[Rejection, ...] = ()

    @property
    def rejected(self) -> tuple[str, ...]:
        """One learner-facing message per entry that was left out."""
        return tuple(r.message for r in self.rejections)


class ArchiveError(Exception):
    """The archive cannot be used at all; the message says what is wrong and what to do about it."""


class _Format(enum.Enum):
    ZIP = "zip"
    TAR = "tar"
    GZIP = "gzip"
    BZIP2 = "bzip2"
    XZ = "xz"


class _Kind(enum.Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    DEVICE = "device"
    FIFO = "fifo"
    OTHER = "other"


_KIND_PROBLEMS: Final = {
    _Kind.SYMLINK: "symbolic links are not accepted; submit the file itself",
    _Kind.HARDLINK: "hard links are not accepted; submit the file itself",
    _Kind.DEVICE: "device files are not accepted",
    _Kind.FIFO: "named pipes (FIFOs) are not accepted",
    _Kind.OTHER: "only regular files and folders are accepted",
}


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> object: ...


@dataclass(frozen=True)
class _Entry:
    """One member as the archive describes it. ``size`` is the header's claim: it may only be used
    to refuse early, never to decide that reading is safe."""

    name: str
    kind: _Kind
    size: int
    open: Callable[[], _Reader]


# ---------------------------------------------------------------------------------------------
# Public API


def is_archive(path: Path) -> bool:
    """Whether ``path`` is a zip or tar archive (compressed or not), judged by its bytes: a suffix
    is a claim made by whoever named the file."""
    return _sniff(path) is not None


def unpack(archive: Path, dest: Path, *, limits: Limits = Limits()) -> Unpacked:
    """Extract ``archive`` into ``dest`` (created if missing, and it must be empty).

    If every entry sits under one top-level folder (``alice-hw1/app.py``), that folder is
    :attr:`Unpacked.folder`, so the submission looks the same whether it was zipped from inside or
    from outside its folder. If unpacking fails, nothing is left in ``dest``.
    """
    fmt = _sniff(archive)
    if fmt is None:
        raise ArchiveError(f"This file is not a zip or tar archive. Submit a {SUPPORTED} file, or the folder itself.")
    _check_archive_size(archive, limits)
    dest.mkdir(mode=DIR_MODE, exist_ok=True)
    if any(dest.iterdir()):
        raise ValueError(f"{dest} is not empty: unpack writes into a fresh folder")
    os.chmod(dest, DIR_MODE)
    extraction = _Extraction(dest, limits)
    try:
        with contextlib.closing(_entries(archive, fmt, limits)) as entries:
            for entry in entries:
                extraction.add(entry)
        if not extraction.meaningful:
            raise ArchiveError("The archive is empty. Put your files in it and submit again.")
    except BaseException:  # ArchiveError, or the runner's own failure (a full disk): leave nothing half-written
        _empty(dest)
        raise
    return Unpacked(_strip_top(dest), tuple(extraction.rejected))


# ---------------------------------------------------------------------------------------------
# Recognising an archive


def _sniff(path: Path) -> _Format | None:
    """The archive format from the first bytes; compressed streams must hold a tar inside."""
    if not path.is_file():
        return None
    with path.open("rb") as f:
        head = f.read(2 * _BLOCK)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _Format.ZIP
    compressed = _compression(head)
    if compressed is not None:
        inner = _decompressed_head(path, compressed)
        # A stream that cannot even be decompressed is a damaged archive, reported as such by unpack.
        return compressed if inner is None or _looks_like_tar(inner) else None
    return _Format.TAR if _looks_like_tar(head) else None


def _compression(head: bytes) -> _Format | None:
    if head.startswith(b"\x1f\x8b\x08"):
        return _Format.GZIP
    if _BZIP2_MAGIC.match(head):
        return _Format.BZIP2
    if head.startswith(b"\xfd7zXZ\x00"):
        return _Format.XZ
    return None


def _decompressed_head(path: Path, fmt: _Format) -> bytes | None:
    try:
        with path.open("rb") as raw, _decompressing(raw, fmt) as stream:
            return stream.read(2 * _BLOCK)
    except (OSError, EOFError, zlib.error, lzma.LZMAError):
        return None


def _looks_like_tar(head: bytes) -> bool:
    """A POSIX/GNU header ("ustar" magic), an old V7 header (valid checksum), or an empty archive."""
    if len(head) < _BLOCK:
        return False
    if head[257:262] == b"ustar" or _tar_checksum_ok(head[:_BLOCK]):
        return True
    return len(head) >= 2 * _BLOCK and not any(head[: 2 * _BLOCK])


def _tar_checksum_ok(header: bytes) -> bool:
    field = header[148:156].split(b"\0", 1)[0].strip()
    try:
        recorded = int(field, 8)
    except ValueError:
        return False
    rest = header[:148] + b" " * 8 + header[156:]
    unsigned = sum(rest)
    signed = sum(struct.unpack("512b", rest))
    return recorded in (unsigned, signed)


def _check_archive_size(archive: Path, limits: Limits) -> None:
    """An archive bigger than everything it may expand to can only hold refused content; refusing it
    up front also bounds the memory zipfile spends on its central directory."""
    ceiling = limits.max_total_bytes + _overhead(limits)
    if archive.stat().st_size > ceiling:
        raise ArchiveError(
            f"The archive is larger than {_size(ceiling)}. Submit only your source files: leave out data files, "
            "virtual environments and build output."
        )


def _overhead(limits: Limits) -> int:
    return limits.max_entries * _ENTRY_OVERHEAD + _SLACK


# ---------------------------------------------------------------------------------------------
# Reading members


def _entries(archive: Path, fmt: _Format, limits: Limits) -> Generator[_Entry, None, None]:
    if fmt is _Format.ZIP:
        yield from _zip_entries(archive, limits)
    else:
        yield from _tar_entries(archive, fmt, limits)


def _zip_entries(archive: Path, limits: Limits) -> Iterator[_Entry]:
    """Zip members in central-directory order. Names are decoded by zipfile as the spec says: UTF-8
    when the entry's UTF-8 flag is set, else code page 437; the name checked is the original one,
    before zipfile cuts it at a NUL byte."""
    with _reading():
        zf = zipfile.ZipFile(archive)
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            raise ArchiveError(_too_many(limits))
        if any(info.flag_bits & (_ZIP_ENCRYPTED | _ZIP_STRONG_ENCRYPTION) for info in infos):
            raise ArchiveError("The archive is password-protected. Create it again without a password and resubmit.")
        for info in infos:
            yield _Entry(info.orig_filename, _zip_kind(info), info.file_size, functools.partial(zf.open, info))


def _zip_kind(info: zipfile.ZipInfo) -> _Kind:
    """Zip has no entry types, but Unix tools store one in the high bits of the external attributes."""
    mode = info.external_attr >> 16
    if info.orig_filename.endswith("/") or stat.S_ISDIR(mode):
        return _Kind.DIR
    return _mode_kind(mode) if stat.S_IFMT(mode) else _Kind.FILE


def _mode_kind(mode: int) -> _Kind:
    if stat.S_ISREG(mode):
        return _Kind.FILE
    if stat.S_ISDIR(mode):
        return _Kind.DIR
    if stat.S_ISLNK(mode):
        return _Kind.SYMLINK
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return _Kind.DEVICE
    if stat.S_ISFIFO(mode):
        return _Kind.FIFO
    return _Kind.OTHER


def _tar_entries(archive: Path, fmt: _Format, limits: Limits) -> Iterator[_Entry]:
    """Tar members, read as a stream (no seeking) through a cap on decompressed bytes, so skipping a
    refused member or parsing a giant long-name header can never cost more than the limits allow.
    Names are decoded as UTF-8 with ``surrogateescape``, so an undecodable name is visible (and
    refused) instead of silently mangled."""
    budget = limits.max_total_bytes + _overhead(limits)
    with archive.open("rb") as raw, _decompressing(raw, fmt) as plain:
        capped = _Capped(plain, budget, _too_big(limits))
        with _tar_stream(capped) as tf:
            while True:
                with _reading():
                    member = tf.next()
                if member is None:
                    return
                yield _Entry(member.name, _tar_kind(member), member.size, functools.partial(_tar_data, tf, member))


def _tar_stream(capped: _Capped) -> tarfile.TarFile:
    with _reading():
        return tarfile.open(fileobj=capped, mode="r|", encoding="utf-8", errors="surrogateescape")


def _tar_kind(member: tarfile.TarInfo) -> _Kind:
    if member.isreg():
        return _Kind.FILE
    if member.isdir():
        return _Kind.DIR
    if member.issym():
        return _Kind.SYMLINK
    if member.islnk():
        return _Kind.HARDLINK
    if member.ischr() or member.isblk():
        return _Kind.DEVICE
    if member.isfifo():
        return _Kind.FIFO
    return _Kind.OTHER


def _tar_data(tf: tarfile.TarFile, member: tarfile.TarInfo) -> _Reader:
    stream = tf.extractfile(member)
    return stream if stream is not None else io.BytesIO()


@contextlib.contextmanager
def _decompressing(raw: BinaryIO, fmt: _Format) -> Iterator[_Reader]:
    """The tar stream inside ``raw``: decompressed here rather than by tarfile, so the cap sits on
    the decompressed bytes."""
    if fmt is _Format.GZIP:
        with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
            yield stream
    elif fmt is _Format.BZIP2:
        with bz2.BZ2File(raw) as bz2_stream:
            yield bz2_stream
    elif fmt is _Format.XZ:
        with lzma.LZMAFile(raw) as xz_stream:
            yield xz_stream
    else:
        yield raw


class _Capped:
    """A read-only stream that raises :class:`ArchiveError` past ``limit`` bytes, and turns
    decompression errors into one. Shaped for ``tarfile.open(fileobj=..., mode="r|")``."""

    def __init__(self, stream: _Reader, limit: int, message: str) -> None:
        self._stream = stream
        self._limit = limit
        self._message = message
        self._count = 0

    def read(self, size: int = -1, /) -> bytes:
        allowed = self._limit - self._count + 1
        with _reading():
            data = self._stream.read(allowed if size < 0 else min(size, allowed))
        self._count += len(data)
        if self._count > self._limit:
            raise ArchiveError(self._message)
        return data

    def write(self, b: bytes, /) -> object:
        raise io.UnsupportedOperation("read-only stream")

    def tell(self) -> int:
        return self._count

    def seek(self, pos: int, /) -> object:
        raise io.UnsupportedOperation("stream is not seekable")

    def close(self) -> object:
        return None


_READ_ERRORS: Final = (
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    OSError,
    zlib.error,
    lzma.LZMAError,
    struct.error,
    ValueError,
)


@contextlib.contextmanager
def _reading() -> Iterator[None]:
    """Whatever goes wrong while *reading* the archive becomes an :class:`ArchiveError` the learner
    can act on. Only reads are wrapped: a failure to write into ``dest`` is the runner's problem."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise ArchiveError(
            "A file name in the archive is marked as UTF-8 but is not valid UTF-8. Rename the file and create "
            "the archive again."
        ) from exc
    except NotImplementedError as exc:
        raise ArchiveError(
            f"The archive uses a compression method that cannot be read ({_detail(exc)}). Create it again with "
            "standard zip (deflate) or tar compression."
        ) from exc
    except _READ_ERRORS as exc:
        raise ArchiveError(
            f"The archive is damaged and cannot be read ({_detail(exc)}). Create it again and resubmit."
        ) from exc


def _detail(exc: BaseException) -> str:
    return textsafe.short(str(exc) or type(exc).__name__, 200)


# ---------------------------------------------------------------------------------------------
# Writing


class _Extraction:
    """The state of one unpack: which paths exist and as what, what was refused, bytes so far."""

    def __init__(self, root: Path, limits: Limits) -> None:
        self.root = root
        self.limits = limits
        self.rejected: list[Rejection] = []
        self.entries = 0
        self.meaningful = 0
        self.total = 0
        self._kinds: dict[tuple[str, ...], _Kind] = {}
        self._duplicated: set[tuple[str, ...]] = set()

    def add(self, entry: _Entry) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise ArchiveError(_too_many(self.limits))
        parts = _parts(entry.name)
        name_problem = _name_problem(entry.name, self.limits)
        if name_problem is None and _is_skipped(parts, entry.kind):
            return
        self.meaningful += 1
        problem = _KIND_PROBLEMS.get(entry.kind) or name_problem
        if problem is not None:
            self._reject(entry.name, problem)
        elif entry.kind is _Kind.DIR:
            self._add_dir(entry.name, parts)
        elif not parts:
            self._reject(entry.name, "the entry has no file name")
        else:
            self._add_file(entry, parts)

    def _reject(self, name: str, reason: str) -> None:
        self.rejected.append(Rejection(name, reason))

    def _count(self, size: int) -> None:
        """Bytes decompressed so far (or claimed by a member refused unread): the bomb check."""
        self.total += size
        if self.total > self.limits.max_total_bytes:
            raise ArchiveError(_too_big(self.limits))

    def _add_dir(self, name: str, parts: tuple[str, ...]) -> None:
        if not self._make_dirs(parts):
            self._reject(name, "a file of the same name is already in the archive")

    def _add_file(self, entry: _Entry, parts: tuple[str, ...]) -> None:
        prior = self._kinds.get(parts)
        if prior is _Kind.DIR:
            self._reject(entry.name, "a folder of the same name is already in the archive")
            return
        if prior is _Kind.FILE:
            self._drop_duplicate(parts)
            self._reject(entry.name, "the archive holds more than one file with this name; none of them is used")
            return
        self._kinds[parts] = _Kind.FILE
        if entry.size > self.limits.max_total_bytes:
            raise ArchiveError(_too_big(self.limits))
        if entry.size > self.limits.max_file_bytes:
            self._count(entry.size)
            self._reject(entry.name, f"the file is larger than {_size(self.limits.max_file_bytes)}")
        elif not self._make_dirs(parts[:-1]):
            self._reject(entry.name, "one of its folders is a file elsewhere in the archive")
        else:
            problem = self._write(entry, parts)
            if problem is not None:
                self._reject(entry.name, problem)

    def _drop_duplicate(self, parts: tuple[str, ...]) -> None:
        """Two members with one name are read differently by different tools (first wins, last
        wins), so neither is trusted: the copy already written is removed."""
        if parts not in self._duplicated:
            self._duplicated.add(parts)
            self.root.joinpath(*parts).unlink(missing_ok=True)

    def _make_dirs(self, parts: tuple[str, ...]) -> bool:
        """Create each folder of ``parts`` (mode 0o755); False if one of them is already a file."""
        for depth in range(1, len(parts) + 1):
            sub = parts[:depth]
            kind = self._kinds.get(sub)
            if kind is _Kind.DIR:
                continue
            if kind is not None or not _mkdir(self.root.joinpath(*sub)):
                return False
            self._kinds[sub] = _Kind.DIR
        return True

    def _write(self, entry: _Entry, parts: tuple[str, ...]) -> str | None:
        """Stream the member into a new regular file (never through an existing path or link),
        counting real bytes; a problem, and no file, if it cannot be kept."""
        target = self.root.joinpath(*parts)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(target, flags, FILE_MODE)
        except FileExistsError:  # only on a case-insensitive file system: App.py after app.py
            self._drop_duplicate(parts)
            return "another file in the archive has the same name up to upper and lower case; none of them is used"
        written = 0
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), FILE_MODE)
            with _reading():
                reader = entry.open()
            try:
                while chunk := _read_chunk(reader):
                    self._count(len(chunk))
                    written += len(chunk)
                    if written > self.limits.max_file_bytes:
                        break
                    out.write(chunk)
            finally:
                reader.close()
        if written > self.limits.max_file_bytes:
            target.unlink()
            return f"the file is larger than {_size(self.limits.max_file_bytes)}"
        return None


def _read_chunk(reader: _Reader) -> bytes:
    with _reading():
        return reader.read(_CHUNK)


def _mkdir(path: Path) -> bool:
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except NotADirectoryError:
        return False
    os.chmod(path, DIR_MODE)
    return True


def _empty(folder: Path) -> None:
    """Remove what unpack wrote: only regular files and folders, so rmtree never meets a link."""
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _strip_top(root: Path) -> Path:
    children = list(root.iterdir())
    if len(children) == 1 and children[0].is_dir() and not children[0].is_symlink():
        return children[0]
    return root


# ---------------------------------------------------------------------------------------------
# Names


def _parts(name: str) -> tuple[str, ...]:
    """Path components, without the empty and ``.`` ones that ``tar -C dir .`` and friends add."""
    return tuple(part for part in name.split("/") if part not in ("", "."))


def _is_skipped(parts: tuple[str, ...], kind: _Kind) -> bool:
    """Entries that are neither written nor reported: the archive's root folder (``./``), and the
    ``__MACOSX/`` and ``._name`` resource forks macOS adds to archives (the learner did not put them
    there, and they would stop the single top-level folder from being stripped)."""
    if not parts:
        return kind is _Kind.DIR
    return parts[0] == "__MACOSX" or parts[-1].startswith("._")


def _name_problem(name: str, limits: Limits) -> str | None:
    """Why a name cannot be written as given, or None. Nothing is repaired: a name that needs
    repairing was made by a tool we do not understand, or by someone probing us."""
    if _SURROGATE.search(name):
        return "the file name is not valid UTF-8"
    if _CONTROL.search(name):
        return "the file name contains control characters"
    if "\\" in name:
        return "the file name contains a backslash; folders are separated by /"
    if name.startswith("/"):
        return "absolute paths are not accepted"
    if ".." in name.split("/"):
        return "path leaves the submission folder"
    parts = _parts(name)
    if any(len(part.encode()) > _MAX_NAME_BYTES for part in parts):
        return f"a file or folder name is longer than {_MAX_NAME_BYTES} bytes"
    if len(parts) > limits.max_depth:
        return f"the path is more than {limits.max_depth} levels deep"
    return None


def _shown(name: str) -> str:
    """A name fit for a message: undecodable bytes as U+FFFD, control characters as visible escapes."""
    text = _SURROGATE.sub("\ufffd", name)
    text = _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"


def _size(n: int) -> str:
    for unit, name in ((MiB, "MiB"), (KiB, "KiB")):
        if n >= unit:
            return f"{n / unit:.1f}".removesuffix(".0") + f" {name}"
    return f"{n} bytes"


def _too_many(limits: Limits) -> str:
    return (
        f"The archive holds more than {limits.max_entries} files and folders. Submit only your source files: "
        "leave out virtual environments, node_modules, caches and .git."
    )


def _too_big(limits: Limits) -> str:
    return (
        f"The archive expands to more than {_size(limits.max_total_bytes)}. Submit only your source files: "
        "leave out data files, virtual environments and build output."
    )
