"""Untrusted archives unpack into plain files and folders inside dest, or not at all."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from runner.archive import ArchiveError, Limits, Unpacked, is_archive, unpack

MiB = 1024 * 1024


# --- building archives ----------------------------------------------------------------------------


def tar_member(name: str, data: bytes = b"", *, kind: bytes = tarfile.REGTYPE, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mode = 0o644
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]], *, mode: str = "w", **options: object) -> Path:
    with tarfile.open(path, mode, **options) as tf:  # type: ignore[call-overload]
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def make_zip(path: Path, members: Sequence[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some tests want
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return path


def zip_info(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the high 16 bits of external_attr are a st_mode
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def good_files() -> list[tuple[str, bytes]]:
    return [("app.py", b"print('hi')\n"), ("pkg/util.py", b"X = 1\n"), ("README.md", b"# hw\n")]


def tree(root: Path) -> dict[str, str]:
    """Every path under root (without following links), with its type."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            found[str(path.relative_to(root))] = stat.filemode(path.lstat().st_mode)[0]
    return found


@pytest.fixture
def jail(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """An archive folder and a dest two levels down; afterwards, nothing outside dest has changed."""
    archives = tmp_path / "archives"
    archives.mkdir()
    dest = tmp_path / "jail" / "dest"
    dest.parent.mkdir()
    yield archives, dest
    outside = {path for path in tree(tmp_path) if path != "jail/dest" and not path.startswith("jail/dest/")}
    assert outside == {"archives", "jail"} | {f"archives/{p.name}" for p in archives.iterdir()}


def unpack_tar(
    jail: tuple[Path, Path], members: list[tuple[tarfile.TarInfo, bytes]], *, mode: str = "w", **options: object
) -> Unpacked:
    archives, dest = jail
    return unpack(make_tar(archives / "sub.tar", members, mode=mode, **options), dest)


def unpack_zip(jail: tuple[Path, Path], members: Sequence[tuple[str | zipfile.ZipInfo, bytes]]) -> Unpacked:
    archives, dest = jail
    return unpack(make_zip(archives / "sub.zip", members), dest)


def ok() -> list[tuple[tarfile.TarInfo, bytes]]:
    return [(tar_member("ok.py", b"ok"), b"ok")]


def ok_zip() -> list[tuple[str | zipfile.ZipInfo, bytes]]:
    return [("ok.py", b"ok")]


# --- good archives --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "mode"), [(".tar", "w"), (".tgz", "w:gz"), (".tar.bz2", "w:bz2"), (".tar.xz", "w:xz")]
)
def test_good_tar_archives_unpack(jail: tuple[Path, Path], suffix: str, mode: str) -> None:
    """Every supported tar flavour gives the same plain files, with no messages."""
    archives, dest = jail
    members = [(tar_member(name, data), data) for name, data in good_files()]
    result = unpack(make_tar(archives / f"sub{suffix}", members, mode=mode), dest)
    assert Unpacked(dest, ()) == result
    assert tree(dest) == {"app.py": "-", "pkg": "d", "pkg/util.py": "-", "README.md": "-"}
    assert (dest / "pkg" / "util.py").read_bytes() == b"X = 1\n"


def test_good_zip_unpacks(jail: tuple[Path, Path]) -> None:
    """A zip gives its files and the folders they need."""
    result = unpack_zip(jail, [*good_files(), ("empty/", b"")])
    _, dest = jail
    assert Unpacked(dest, ()) == result
    assert tree(dest) == {"app.py": "-", "pkg": "d", "pkg/util.py": "-", "README.md": "-", "empty": "d"}


def test_dot_slash_names_from_tar_dash_c_are_fine(jail: tuple[Path, Path]) -> None:
    """`tar -C folder -cf x.tar .` names entries ./app.py, with a ./ root entry."""
    result = unpack_tar(jail, [(tar_member(".", kind=tarfile.DIRTYPE), b""), (tar_member("./app.py", b"x"), b"x")])
    assert result.rejected == ()
    assert tree(result.folder) == {"app.py": "-"}


def test_is_archive_looks_at_bytes_not_suffix(tmp_path: Path) -> None:
    """A zip named .txt and a tar.gz named .bin are archives; a text .zip, a gzipped text and a folder are not."""
    make_zip(tmp_path / "real.txt", good_files())
    make_tar(tmp_path / "real.bin", [(tar_member("a.py", b"a"), b"a")], mode="w:gz")
    (tmp_path / "fake.zip").write_text("this is not a zip\n")
    (tmp_path / "text.tar.gz").write_bytes(gzip.compress(b"just some text, no tar header here\n" * 40))
    actual = {name: is_archive(tmp_path / name) for name in ["real.txt", "real.bin", "fake.zip", "text.tar.gz"]}
    assert actual == {"real.txt": True, "real.bin": True, "fake.zip": False, "text.tar.gz": False}
    assert False is is_archive(tmp_path)


def test_v7_tar_without_magic_is_recognised(tmp_path: Path) -> None:
    """Old-style tar headers have no "ustar" magic, only a checksum."""
    path = make_tar(tmp_path / "old.tar", [(tar_member("a.py", b"a"), b"a")], format=tarfile.USTAR_FORMAT)
    data = bytearray(path.read_bytes())
    data[257:265] = b"\0" * 8  # drop the magic and version, then fix the checksum
    data[148:156] = b" " * 8
    data[148:156] = b"%06o\0 " % sum(data[:512])
    path.write_bytes(bytes(data))
    assert True is is_archive(path)


# --- single top-level folder --------------------------------------------------------------------


def test_single_top_folder_is_stripped(jail: tuple[Path, Path]) -> None:
    """alice-hw1/app.py is graded as app.py; one level only, so alice-hw1/src/ stays src/."""
    result = unpack_zip(jail, [("alice-hw1/app.py", b"a"), ("alice-hw1/src/util.py", b"u")])
    _, dest = jail
    assert dest / "alice-hw1" == result.folder
    assert tree(result.folder) == {"app.py": "-", "src": "d", "src/util.py": "-"}


def test_nested_single_folders_strip_one_level(jail: tuple[Path, Path]) -> None:
    """hw/hw/app.py becomes hw/app.py: deeper structure may be what the exercise expects."""
    result = unpack_tar(jail, [(tar_member("hw/hw/app.py", b"a"), b"a")])
    _, dest = jail
    assert (dest / "hw", {"hw": "d", "hw/app.py": "-"}) == (result.folder, tree(result.folder))


def test_two_top_level_entries_are_not_stripped(jail: tuple[Path, Path]) -> None:
    """A folder beside a file is the submission itself."""
    result = unpack_zip(jail, [("alice/app.py", b"a"), ("notes.txt", b"n")])
    _, dest = jail
    assert dest == result.folder


def test_macos_metadata_is_skipped_and_does_not_block_stripping(jail: tuple[Path, Path]) -> None:
    """__MACOSX/ and ._ resource forks are ignored without messages."""
    result = unpack_zip(
        jail, [("alice/app.py", b"a"), ("__MACOSX/alice/._app.py", b"\0\5\x16\7"), ("alice/._app.py", b"x")]
    )
    _, dest = jail
    assert Unpacked(dest / "alice", ()) == result
    assert tree(dest) == {"alice": "d", "alice/app.py": "-"}


# --- hostile names --------------------------------------------------------------------------------


def test_dot_dot_paths_are_rejected(jail: tuple[Path, Path]) -> None:
    """../ anywhere in a name never leaves dest."""
    result = unpack_zip(jail, [("../evil.py", b"x"), ("a/../../evil2.py", b"x"), ("app.py", b"ok")])
    assert result.rejected == (
        "rejected '../evil.py': path leaves the submission folder",
        "rejected 'a/../../evil2.py': path leaves the submission folder",
    )
    assert tree(result.folder) == {"app.py": "-"}


def test_dot_dot_paths_in_tar_are_rejected(jail: tuple[Path, Path]) -> None:
    """The same for tar, whose names are whatever the header says."""
    result = unpack_tar(jail, [(tar_member("../../evil.py", b"x"), b"x"), (tar_member("ok.py", b"k"), b"k")])
    assert result.rejected == ("rejected '../../evil.py': path leaves the submission folder",)


def test_absolute_paths_are_rejected(jail: tuple[Path, Path], tmp_path: Path) -> None:
    """An absolute name is never written, even where dest could reach."""
    target = str(tmp_path / "absolute-evil.py")
    result = unpack_tar(jail, [(tar_member(target, b"x"), b"x"), (tar_member("ok.py", b"k"), b"k")])
    assert (f"rejected '{target}': absolute paths are not accepted",) == result.rejected
    assert False is Path(target).exists()


def test_symlink_to_etc_passwd_is_rejected(jail: tuple[Path, Path]) -> None:
    """No symlink is ever created, so nothing can be read or written through one."""
    link = tar_member("passwd", kind=tarfile.SYMTYPE, linkname="/etc/passwd")
    dir_link = tar_member("up", kind=tarfile.SYMTYPE, linkname="..")
    result = unpack_tar(jail, [(link, b""), (dir_link, b""), (tar_member("up/evil.py", b"x"), b"x")])
    assert result.rejected == (
        "rejected 'passwd': symbolic links are not accepted; submit the file itself",
        "rejected 'up': symbolic links are not accepted; submit the file itself",
    )
    _, dest = jail
    assert tree(dest) == {"up": "d", "up/evil.py": "-"}


def test_zip_symlink_entry_is_rejected(jail: tuple[Path, Path]) -> None:
    """Unix zips mark symlinks in the external attributes; the entry is refused, not written as a file."""
    result = unpack_zip(jail, [(zip_info("passwd", stat.S_IFLNK | 0o777), b"/etc/passwd"), ("app.py", b"a")])
    assert result.rejected == ("rejected 'passwd': symbolic links are not accepted; submit the file itself",)
    assert tree(result.folder) == {"app.py": "-"}


def test_hardlink_is_rejected(jail: tuple[Path, Path]) -> None:
    """Hard links to files outside (or inside) the archive are refused."""
    result = unpack_tar(jail, [(tar_member("hl", kind=tarfile.LNKTYPE, linkname="/etc/passwd"), b""), *ok()])
    assert result.rejected == ("rejected 'hl': hard links are not accepted; submit the file itself",)


def test_device_and_fifo_entries_are_rejected(jail: tuple[Path, Path]) -> None:
    """Character and block devices and named pipes are never created."""
    members = [
        (tar_member("null", kind=tarfile.CHRTYPE, devmajor=1, devminor=3), b""),
        (tar_member("sda", kind=tarfile.BLKTYPE, devmajor=8, devminor=0), b""),
        (tar_member("pipe", kind=tarfile.FIFOTYPE), b""),
        *ok(),
    ]
    result = unpack_tar(jail, members)
    assert result.rejected == (
        "rejected 'null': device files are not accepted",
        "rejected 'sda': device files are not accepted",
        "rejected 'pipe': named pipes (FIFOs) are not accepted",
    )
    assert tree(result.folder) == {"ok.py": "-"}


def test_zip_fifo_entry_is_rejected(jail: tuple[Path, Path]) -> None:
    """A FIFO mode in a zip's attributes is refused too."""
    result = unpack_zip(jail, [(zip_info("pipe", stat.S_IFIFO | 0o644), b""), ("app.py", b"a")])
    assert result.rejected == ("rejected 'pipe': named pipes (FIFOs) are not accepted",)


def test_non_utf8_tar_name_is_rejected(jail: tuple[Path, Path]) -> None:
    """A Latin-1 name is refused and shown with a replacement character."""
    members = [(tar_member("caf\xe9.py", b"x"), b"x"), *ok()]
    result = unpack_tar(jail, members, format=tarfile.GNU_FORMAT, encoding="latin-1")
    assert result.rejected == ("rejected 'caf\ufffd.py': the file name is not valid UTF-8",)
    assert tree(result.folder) == {"ok.py": "-"}


def test_zip_name_with_bad_utf8_flagged_as_utf8_is_an_error(jail: tuple[Path, Path]) -> None:
    """zipfile cannot list such an archive at all, so the whole archive is refused."""
    archives, dest = jail
    path = make_zip(archives / "sub.zip", [("caf\u00e9.py", b"x")])
    path.write_bytes(path.read_bytes().replace("é".encode(), b"\xff\xfe"))
    with pytest.raises(ArchiveError, match="marked as UTF-8 but is not valid UTF-8"):
        unpack(path, dest)
    assert tree(dest) == {}


def test_zip_name_without_utf8_flag_is_cp437(jail: tuple[Path, Path]) -> None:
    """Without the UTF-8 flag a zip name is code page 437, as the zip specification says."""
    archives, dest = jail
    path = make_zip(archives / "sub.zip", [("cafe.py", b"x")])
    path.write_bytes(path.read_bytes().replace(b"cafe.py", b"caf\x82.py"))
    result = unpack(path, dest)
    assert (Unpacked(dest, ()), {"café.py": "-"}) == (result, tree(dest))


def test_control_characters_and_backslashes_are_rejected(jail: tuple[Path, Path]) -> None:
    """Escape sequences, newlines and NUL in names are refused and shown escaped; so are backslashes."""
    archives, dest = jail
    members: list[tuple[str | zipfile.ZipInfo, bytes]] = [
        ("evil\x1b[2J.py", b"x"),
        ("two\nlines.py", b"x"),
        ("nul.py_.txt", b"x"),
        ("..\\evil.py", b"x"),
        *ok_zip(),
    ]
    path = make_zip(archives / "sub.zip", members)
    # zipfile will not write a NUL into a name (it cuts names there when reading); patch one in.
    path.write_bytes(path.read_bytes().replace(b"nul.py_.txt", b"nul.py\x00.txt"))
    result = unpack(path, dest)
    assert result.rejected == (
        "rejected 'evil\\x1b[2J.py': the file name contains control characters",
        "rejected 'two\\x0alines.py': the file name contains control characters",
        "rejected 'nul.py\\x00.txt': the file name contains control characters",
        "rejected '..\\evil.py': the file name contains a backslash; folders are separated by /",
    )
    assert tree(dest) == {"ok.py": "-"}


def test_duplicate_names_keep_neither_copy(jail: tuple[Path, Path]) -> None:
    """Tools disagree on which duplicate wins, so none is used."""
    result = unpack_zip(jail, [("app.py", b"first"), ("app.py", b"second"), ("app.py", b"third"), *ok_zip()])
    message = "rejected 'app.py': the archive holds more than one file with this name; none of them is used"
    assert (message, message) == result.rejected
    assert tree(result.folder) == {"ok.py": "-"}


def test_duplicate_names_in_tar(jail: tuple[Path, Path]) -> None:
    """tar's later-member-wins rule is not applied either."""
    result = unpack_tar(jail, [(tar_member("app.py", b"1"), b"1"), (tar_member("./app.py", b"2"), b"2"), *ok()])
    assert result.rejected == (
        "rejected './app.py': the archive holds more than one file with this name; none of them is used",
    )
    assert tree(result.folder) == {"ok.py": "-"}


def test_file_and_folder_with_one_name_conflict(jail: tuple[Path, Path]) -> None:
    """A file cannot become a folder later, nor a folder a file."""
    result = unpack_zip(jail, [("a", b"file"), ("a/b.py", b"x"), ("c/d.py", b"x"), ("c", b"file")])
    assert result.rejected == (
        "rejected 'a/b.py': one of its folders is a file elsewhere in the archive",
        "rejected 'c': a folder of the same name is already in the archive",
    )
    assert tree(result.folder) == {"a": "-", "c": "d", "c/d.py": "-"}


def test_paths_deeper_than_the_limit_are_rejected(jail: tuple[Path, Path]) -> None:
    """A maze of folders stops at max_depth."""
    deep = "/".join(["d"] * 21) + ".py"
    result = unpack_zip(jail, [(deep, b"x"), ("/".join(["d"] * 19) + "/ok.py", b"x"), *ok_zip()])
    assert (f"rejected '{deep}': the path is more than 20 levels deep",) == result.rejected


def test_setuid_bits_owners_and_permissions_are_not_kept(jail: tuple[Path, Path]) -> None:
    """Files are 0o644 and folders 0o755 whatever the archive says."""
    members = [
        (tar_member("bin", kind=tarfile.DIRTYPE, mode=0o7777), b""),
        (tar_member("bin/su", b"#!/bin/sh\n", mode=0o4755, uid=0, gid=0, uname="root"), b"#!/bin/sh\n"),
        (tar_member("locked.py", b"x", mode=0o000), b"x"),
    ]
    result = unpack_tar(jail, members)
    modes = {name: stat.S_IMODE((result.folder / name).stat().st_mode) for name in ["bin", "bin/su", "locked.py"]}
    assert modes == {"bin": 0o755, "bin/su": 0o644, "locked.py": 0o644}


def test_zip_setuid_bits_are_not_kept(jail: tuple[Path, Path]) -> None:
    """A setuid mode in a zip's attributes is ignored."""
    result = unpack_zip(jail, [(zip_info("su", stat.S_IFREG | 0o4755), b"x")])
    assert stat.S_IMODE((result.folder / "su").stat().st_mode) == 0o644


# --- limits and bombs -----------------------------------------------------------------------------


def test_ten_thousand_tiny_entries_zip(jail: tuple[Path, Path]) -> None:
    """Too many entries refuses the archive before anything is written."""
    with pytest.raises(ArchiveError, match="more than 2000 files and folders"):
        unpack_zip(jail, [(f"f{i}.py", b"") for i in range(10_000)])
    _, dest = jail
    assert tree(dest) == {}


def test_ten_thousand_tiny_entries_tar(jail: tuple[Path, Path]) -> None:
    """A tar is read as a stream, so what was written before the limit is removed."""
    with pytest.raises(ArchiveError, match="more than 2000 files and folders"):
        unpack_tar(jail, [(tar_member(f"f{i}.py"), b"") for i in range(10_000)], mode="w:gz")
    _, dest = jail
    assert tree(dest) == {}


@pytest.mark.parametrize("kind", ["zip", "tar.gz", "tar.bz2"])
def test_thirty_mib_of_zeros_is_a_bomb(jail: tuple[Path, Path], kind: str) -> None:
    """A member bigger than the whole archive may expand to refuses the archive, nothing written."""
    archives, dest = jail
    zeros = bytes(30 * MiB)
    if kind == "zip":
        path = make_zip(archives / "bomb.zip", [("ok.py", b"x"), ("zeros.bin", zeros)])
    else:
        members = [(tar_member("ok.py", b"x"), b"x"), (tar_member("zeros.bin", zeros), zeros)]
        path = make_tar(archives / f"bomb.{kind}", members, mode="w:" + kind.split(".")[1])
    assert path.stat().st_size < MiB
    with pytest.raises(ArchiveError, match="expands to more than 20 MiB"):
        unpack(path, dest)
    assert tree(dest) == {}


def test_many_files_under_the_file_limit_add_up_to_a_bomb(jail: tuple[Path, Path]) -> None:
    """Fifteen 2 MiB files pass one by one; the running total of written bytes stops them."""
    with pytest.raises(ArchiveError, match="expands to more than 20 MiB"):
        unpack_zip(jail, [(f"z{i}.bin", bytes(2 * MiB)) for i in range(15)])
    _, dest = jail
    assert tree(dest) == {}


def test_huge_tar_metadata_is_a_bomb_too(jail: tuple[Path, Path]) -> None:
    """A 40 MiB pax header is refused by the cap on decompressed bytes before tarfile holds it all."""
    archives, dest = jail
    info = tar_member("a.py", b"a", pax_headers={"comment": "x" * (40 * MiB)})
    path = make_tar(archives / "pax.tar.gz", [(info, b"a")], mode="w:gz", format=tarfile.PAX_FORMAT)
    with pytest.raises(ArchiveError, match="expands to more than 20 MiB"):
        unpack(path, dest)


def test_archive_file_larger_than_it_may_expand_to_is_refused(tmp_path: Path) -> None:
    """Refused before zipfile reads a central directory that could be huge."""
    path = make_zip(tmp_path / "big.zip", [("noise.bin", os.urandom(200 * 1024))])
    with pytest.raises(ArchiveError, match=r"The archive is larger than 82 KiB"):
        unpack(path, tmp_path / "out", limits=Limits(max_entries=1, max_total_bytes=10 * 1024))


def test_a_file_over_the_file_limit_is_rejected(jail: tuple[Path, Path]) -> None:
    """One big file is left out; the rest of the submission is kept."""
    result = unpack_zip(jail, [("data.bin", bytes(3 * MiB)), *ok_zip()])
    assert result.rejected == ("rejected 'data.bin': the file is larger than 2 MiB",)
    assert tree(result.folder) == {"ok.py": "-"}


def test_zip_whose_header_understates_the_size_is_refused(jail: tuple[Path, Path]) -> None:
    """A member whose headers claim 100 bytes for 5 MiB of data never yields more than it claims, then fails its CRC."""
    archives, dest = jail
    path = make_zip(archives / "liar.zip", [("ok.py", b"x"), ("liar.bin", bytes(5 * MiB))])
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("liar.bin")
    data = path.read_bytes()
    real = (5 * MiB).to_bytes(4, "little")
    lie = (100).to_bytes(4, "little")
    # The uncompressed size follows the compressed size, in both the local and the central header.
    sizes = info.compress_size.to_bytes(4, "little") + real
    assert data.count(sizes) == 2
    path.write_bytes(data.replace(sizes, info.compress_size.to_bytes(4, "little") + lie))
    with pytest.raises(ArchiveError, match="damaged"):
        unpack(path, dest)
    assert tree(dest) == {}


def test_zip_whose_header_overstates_the_size_is_judged_on_real_bytes(tmp_path: Path) -> None:
    """Bytes are counted as they are written: limits apply to what was read, not to what was claimed."""
    path = make_zip(tmp_path / "sub.zip", [("a.bin", bytes(1000))])
    result = unpack(path, tmp_path / "out", limits=Limits(max_file_bytes=999, max_total_bytes=10 * MiB))
    assert result.rejected == ("rejected 'a.bin': the file is larger than 999 bytes",)


def test_tar_whose_header_overstates_the_size_is_refused(jail: tuple[Path, Path]) -> None:
    """A header claiming more data than the archive holds is a damaged archive."""
    archives, dest = jail
    members = [(tar_member("ok.py", b"x"), b"x"), (tar_member("big.py", b"x" * 10), b"x" * 10)]
    path = make_tar(archives / "liar.tar", members)
    data = path.read_bytes()
    header = data.index(b"big.py")
    block = bytearray(data[header : header + 512])
    block[124:136] = b"%011o\0" % 100_000
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    path.write_bytes(data[:header] + bytes(block) + data[header + 512 : header + 1024])
    with pytest.raises(ArchiveError, match="damaged"):
        unpack(path, dest)
    assert tree(dest) == {}


# --- unusable archives ----------------------------------------------------------------------------


def test_corrupt_zip_is_an_error(jail: tuple[Path, Path]) -> None:
    """A zip with a broken body says it is damaged and what to do."""
    archives, dest = jail
    path = make_zip(archives / "sub.zip", [("app.py", b"print('hello')\n" * 200)])
    data = bytearray(path.read_bytes())
    data[40:80] = b"\xff" * 40
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=r"damaged and cannot be read .*Create it again and resubmit"):
        unpack(path, dest)
    assert tree(dest) == {}


def test_truncated_tar_gz_is_an_error(jail: tuple[Path, Path]) -> None:
    """A cut-off download is damaged, not a crash."""
    archives, dest = jail
    data = os.urandom(200_000)
    path = make_tar(archives / "sub.tgz", [(tar_member("r.bin", data), data)], mode="w:gz")
    path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(ArchiveError, match="damaged"):
        unpack(path, dest)
    assert tree(dest) == {}


def test_non_archive_with_zip_suffix_is_an_error(jail: tuple[Path, Path]) -> None:
    """The suffix does not make a file an archive."""
    archives, dest = jail
    path = archives / "homework.zip"
    path.write_text("def main(): pass\n")
    with pytest.raises(ArchiveError, match=r"not a zip or tar archive\. Submit a \.zip"):
        unpack(path, dest)


def test_encrypted_zip_is_an_error(jail: tuple[Path, Path]) -> None:
    """A password-protected zip cannot be read and says so."""
    archives, dest = jail
    path = make_zip(archives / "sub.zip", [("app.py", b"x")])
    data = bytearray(path.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + flag_offset
        data[at] |= 0x1
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="password-protected"):
        unpack(path, dest)


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz"])
def test_empty_archive_is_an_error(jail: tuple[Path, Path], kind: str) -> None:
    """An archive with nothing in it says so instead of grading an empty folder."""
    archives, dest = jail
    path = archives / f"empty.{kind}"
    if kind == "zip":
        make_zip(path, [])
    else:
        make_tar(path, [], mode="w:gz" if kind == "tar.gz" else "w")
    with pytest.raises(ArchiveError, match="The archive is empty"):
        unpack(path, dest)


def test_dest_must_be_empty(tmp_path: Path) -> None:
    """unpack never mixes a submission with files already there."""
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "old.py").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        unpack(make_zip(tmp_path / "sub.zip", good_files()), tmp_path / "dest")
