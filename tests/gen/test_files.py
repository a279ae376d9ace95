"""The checks of the paths a command reads and writes, and writing a file whole."""

import pytest

from madvq.gen.files import (check_input_file, check_output_file, check_output_folder,
                             write_atomically)


def test_input_file(tmp_path):
    (tmp_path / "a.csv").write_text("1\n")
    assert check_input_file(tmp_path / "a.csv", "codebook file") == tmp_path / "a.csv"
    with pytest.raises(ValueError, match=r"^codebook file '.*b\.csv' not found$"):
        check_input_file(tmp_path / "b.csv", "codebook file")
    with pytest.raises(ValueError, match=r"^codebook file '.*' is a folder; give a file$"):
        check_input_file(tmp_path, "codebook file")


def test_output_file(tmp_path):
    (tmp_path / "f").write_text("x")
    (tmp_path / "d.npz").mkdir()
    # Missing folders are fine: they are made when the file is written.
    assert check_output_file(tmp_path / "new" / "deeper" / "r.npz", "output file", (".npz",))
    with pytest.raises(ValueError, match=r"^output file must end in \.npz, not '.*r\.txt'$"):
        check_output_file(tmp_path / "r.txt", "output file", (".npz",))
    with pytest.raises(ValueError, match=r"^cannot write output file '.*d\.npz': it is a "
                                         r"folder$"):
        check_output_file(tmp_path / "d.npz", "output file", (".npz",))
    with pytest.raises(ValueError, match=r"^cannot write output file '.*f/x/r\.npz': '.*f' is "
                                         r"a file, not a folder$"):
        check_output_file(tmp_path / "f" / "x" / "r.npz", "output file", (".npz",))


def test_output_folder(tmp_path):
    (tmp_path / "f").write_text("x")
    assert check_output_folder(tmp_path / "new", "output folder") == tmp_path / "new"
    assert not (tmp_path / "new").exists()            # checked, not made
    with pytest.raises(ValueError, match=r"^output folder '.*f' is a file, not a folder$"):
        check_output_folder(tmp_path / "f", "output folder")
    with pytest.raises(ValueError, match=r"^cannot write output folder '.*f/sub': '.*f' is a "
                                         r"file, not a folder$"):
        check_output_folder(tmp_path / "f" / "sub", "output folder")


def test_write_atomically_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "out" / "r.bin"
    write_atomically(path, lambda f: f.write(b"first"))
    assert path.read_bytes() == b"first"

    def fails_half_way(f):
        f.write(b"half")
        raise OSError("disk full")
    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, fails_half_way)
    assert path.read_bytes() == b"first"
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.bin"]
