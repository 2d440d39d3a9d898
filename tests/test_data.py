"""Tests for logreg_cli.data: corpus formats, decoding, blank lines, stdin and messages."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import sys

from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logreg_cli import data
from logreg_cli.data import (
    Corpus,
    ReadOptions,
    detect_format,
    document_hashes,
    find_duplicates,
    iter_labelled_chunks,
    iter_text_documents,
    overlap_message,
    read_corpus,
    read_documents,
    streams_labelled,
    streams_text,
)
from logreg_cli.errors import ConfigError, DataError

from conftest import corpus_dir

# One line per document, label then text, in the order a folder corpus reads
# them (labels sorted, then file names sorted). The texts contain a comma,
# quotes, non-ASCII letters and an emoji so every format has to escape something.
SAMPLE = [
    ("neg", "awful bore"),
    ("neg", 'he said "dull", twice'),
    ("pos", "great fun"),
    ("pos", "café 😀 night"),
]


def write(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def write_folder(root: Path, documents: dict[str, list[bytes]]) -> str:
    for label, contents in documents.items():
        (root / label).mkdir(parents=True)
        for index, content in enumerate(contents):
            (root / label / f"{index:04d}.txt").write_bytes(content)
    return str(root)


def fake_stdin(monkeypatch: pytest.MonkeyPatch, content: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(content)))


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


# --------------------------------------------------------------------------- TSV


def test_read_corpus_tsv_values(tmp_path):
    path = write(tmp_path, "train.tsv", b"pos\tgreat fun\nneg\tawful bore\n")

    corpus = read_corpus(path)

    assert corpus.documents == ["great fun", "awful bore"]
    assert corpus.labels == ["pos", "neg"]
    assert corpus.line_numbers == [1, 2]
    assert corpus.path == path
    assert corpus.skipped_blank == []


def test_read_corpus_last_line_without_newline(tmp_path):
    path = write(tmp_path, "train.tsv", b"pos\tgreat fun\nneg\tawful")

    corpus = read_corpus(path)

    assert corpus.documents == ["great fun", "awful"]


def test_read_corpus_strips_utf8_bom(tmp_path):
    path = write(tmp_path, "train.tsv", b"\xef\xbb\xbfpos\tgreat fun\nneg\tawful\n")

    corpus = read_corpus(path)

    assert corpus.labels == ["pos", "neg"]
    assert corpus.documents == ["great fun", "awful"]


def test_read_corpus_crlf_line_ends(tmp_path):
    path = write(tmp_path, "train.tsv", b"pos\tgreat fun\r\nneg\tawful bore\r\n")

    corpus = read_corpus(path)

    assert corpus.documents == ["great fun", "awful bore"]
    assert corpus.labels == ["pos", "neg"]


def test_read_corpus_tab_inside_text(tmp_path):
    path = write(tmp_path, "train.tsv", b"pos\tgreat\tfun\nneg\tawful\tawful\tnight\n")

    corpus = read_corpus(path)

    assert corpus.labels == ["pos", "neg"]
    assert corpus.documents == ["great\tfun", "awful\tawful\tnight"]


# Each case: file name, content, reading options, the start of the message ("{path}" is the file),
# and whether the message must be exactly that.
READ_ERRORS = [
    pytest.param(
        "train.tsv", b"pos\tgreat fun\n\nneg\tawful bore\npos\t\nneg\t   \n   \npos\tgreat\nneg\tawful\nneg\n", {},
        "{path}:9: expected 'label<TAB>text' but found no tab; separate the label from the text with a tab "
        "(for unlabelled text to predict, use a .txt file or --format text)", True, id="no-tab"),
    pytest.param("train.tsv", b"pos\tgreat\n  \tawful bore\n", {},
                 "{path}:2: the label before the tab is empty", False, id="empty-label"),
    pytest.param("train.tsv", b"great fun\tx\tpos\nawful\tneg\n", {"label_column": 2, "text_column": 0},
                 "{path}:2: expected at least 3 tab-separated fields (label column 2, text column 0) but found 2",
                 False, id="tsv-missing-field"),
    pytest.param("train.tsv", b"", {}, "{path}: no documents found", False, id="empty-file"),
    pytest.param("train.tsv", b"\n  \n\t\n", {}, "{path}: no documents found; the corpus is empty or has only blank lines",
                 False, id="only-blank-lines"),
    # Decoding. Line 3 is b"pos\tnice caf\xe9 here": 0xE9 is byte 13 of the line.
    pytest.param("train_latin1.tsv", b"pos\tgood film\nneg\tbad film\npos\tnice caf\xe9 here\n", {},
                 "{path}:3:13: invalid UTF-8 byte 0xE9; if the file is Latin-1 or cp1252, "
                 "set data.encoding: latin-1 (or --encoding latin-1)", True, id="latin1-byte"),
    # Line 2 is b"neg\tdon\x92t like it": 0x92 is byte 8 of the line.
    pytest.param("train_cp1252.tsv", b"pos\tgreat\nneg\tdon\x92t like it\n", {},
                 "{path}:2:8: invalid UTF-8 byte 0x92; if the file is cp1252 (Windows), "
                 "set data.encoding: cp1252 (or --encoding cp1252)", True, id="cp1252-byte"),
    # The column counts the bytes of the file, so the 3-byte BOM shifts line 1.
    pytest.param("train.tsv", b"\xef\xbb\xbfpos\tcaf\xe9\n", {},
                 "{path}:1:11: invalid UTF-8 byte 0xE9", False, id="column-counts-bom"),
    pytest.param("train.tsv", "pos\tgreat\n".encode("utf-16-le") + b"\x00", {"encoding": "utf-16-le"},
                 "{path}:2:1: invalid utf-16-le byte 0x00", False, id="other-codec"),
    # CSV
    pytest.param("train.csv", b'label,text\npos,great\nneg,"awful\nbore\npos,fine\n', {},
                 "{path}:3: a quoted field starts here but its closing quote is missing", False,
                 id="csv-unterminated-quote"),
    # The record starts on line 2, but the quote that never closes opens on line 3.
    pytest.param("train.csv", b'label,text,note\n"pos","great\nfun","ok\nneg,awful,x\n', {},
                 "{path}:3: a quoted field starts here", False, id="csv-unterminated-later-field"),
    pytest.param("train.csv", b'label,text\npos,great\nneg,"awful"bore\n', {},
                 "{path}:3: invalid CSV", False, id="csv-text-after-quote"),
    pytest.param("train.csv", b"category,body\npos,great\n", {"label_column": "label", "text_column": "body"},
                 "{path}:1: column 'label' not found in the header; the header has columns 'category', 'body'; "
                 "set data.label_column", True, id="csv-missing-column"),
    pytest.param("train.csv", b"label,text\npos,great\nneg\n", {},
                 "{path}:3: expected at least 2 fields", False, id="csv-short-record"),
    pytest.param("train.csv", b"label,text\npos,a\rb\n", {},
                 "{path}:2: invalid CSV (carriage return", False, id="csv-stray-carriage-return"),
    # JSONL
    pytest.param("train.jsonl", b'{"label": "pos", "text": "great"}\n{"label": "neg" "text": "awful"}\n', {},
                 "{path}:2:17: invalid JSON (Expecting ',' delimiter)", False, id="jsonl-bad-json"),
    pytest.param("train.jsonl", b'{"lbl": "pos", "text": "great"}\n', {},
                 "{path}:1: missing key 'label'; the object has keys 'lbl', 'text'; "
                 "set data.label_key to the key that holds it", True, id="jsonl-missing-key"),
    pytest.param("train.jsonl", b'["pos", "great"]\n', {},
                 "{path}:1: expected a JSON object but found an array", False, id="jsonl-not-object"),
    pytest.param("train.jsonl", b'{"label": "pos", "text": 5}\n', {},
                 "{path}:1: the value of 'text' is a number", False, id="jsonl-text-not-string"),
    pytest.param("train.jsonl", b'{"label": null, "text": "great"}\n', {},
                 "{path}:1: the value of 'label' is null", False, id="jsonl-null-label"),
    # fastText
    pytest.param("train.ft", b"__label__pos great\npos awful\n", {},
                 "{path}:2: expected '__label__LABEL text' but the line does not start with '__label__'", False,
                 id="fasttext-missing-prefix"),
]


@pytest.mark.parametrize("name, content, options, expected, exact", READ_ERRORS)
def test_read_corpus_error_message(tmp_path, name, content, options, expected, exact):
    path = write(tmp_path, name, content)

    with pytest.raises(DataError) as excinfo:
        read_corpus(path, ReadOptions(**options))

    message = str(excinfo.value)
    assert message.startswith(expected.format(path=path))
    if exact:
        assert message == expected.format(path=path)


def test_read_corpus_blank_lines_skipped(tmp_path, caplog):
    content = b"pos\tgreat fun\n\nneg\tawful bore\npos\t\nneg\t   \n \t \npos\tgreat\nneg\tawful\n"
    path = write(tmp_path, "train.tsv", content)

    with caplog.at_level(logging.INFO, logger="logreg_cli.data"):
        corpus = read_corpus(path)

    assert corpus.skipped_blank == [2, 6]
    assert corpus.line_numbers == [1, 3, 4, 5, 7, 8]
    assert corpus.labels == ["pos", "neg", "pos", "neg", "pos", "neg"]
    assert warnings_of(caplog) == [f"{path}: skipped 2 blank lines (2, 6)"]


def test_read_corpus_keeps_empty_text(tmp_path):
    path = write(tmp_path, "train.tsv", b"pos\t\nneg\t   \npos\tgreat\n")

    corpus = read_corpus(path)

    assert corpus.documents == ["", "   ", "great"]
    assert corpus.labels == ["pos", "neg", "pos"]


def test_read_corpus_lists_ten_blank_lines(tmp_path, caplog):
    path = write(tmp_path, "train.tsv", b"pos\tgreat\n" + b"\n" * 12 + b"neg\tawful\n")

    with caplog.at_level(logging.WARNING, logger="logreg_cli.data"):
        corpus = read_corpus(path)

    assert corpus.skipped_blank == list(range(2, 14))
    assert warnings_of(caplog) == [
        f"{path}: skipped 12 blank lines (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, …)"
    ]


def test_read_corpus_one_blank_line_singular(tmp_path, caplog):
    path = write(tmp_path, "train.tsv", b"pos\tgreat\n\nneg\tawful\n")

    with caplog.at_level(logging.WARNING, logger="logreg_cli.data"):
        read_corpus(path)

    assert warnings_of(caplog) == [f"{path}: skipped 1 blank line (2)"]


def test_read_corpus_labels_verbatim(tmp_path):
    content = b" very good \tgreat fun\nvery bad\tawful\n+1\tnice\n-1\tbad\n0\tmeh\n"
    path = write(tmp_path, "train.tsv", content)

    corpus = read_corpus(path)

    assert corpus.labels == ["very good", "very bad", "+1", "-1", "0"]


def test_read_corpus_unicode_separators_inside_text(tmp_path):
    # U+2028, U+0085 and form feed are line breaks for str.splitlines but not here.
    content = "pos\tgreat\u2028fun\nneg\tawful\x85bore\x0cnight\n".encode()
    path = write(tmp_path, "train.tsv", content)

    corpus = read_corpus(path)

    assert corpus.documents == ["great\u2028fun", "awful\x85bore\x0cnight"]
    assert corpus.line_numbers == [1, 2]


def test_read_corpus_tsv_other_columns(tmp_path):
    path = write(tmp_path, "train.tsv", b"great fun\tx\tpos\nawful\ty\tneg\n")

    corpus = read_corpus(path, ReadOptions(label_column=2, text_column=0))

    assert corpus.labels == ["pos", "neg"]
    assert corpus.documents == ["great fun", "awful"]


def test_read_corpus_tsv_header_skipped(tmp_path):
    path = write(tmp_path, "train.tsv", b"label\ttext\npos\tgreat\nneg\tawful\n")

    corpus = read_corpus(path, ReadOptions(header=True))

    assert corpus.labels == ["pos", "neg"]
    assert corpus.line_numbers == [2, 3]


def test_read_corpus_tsv_header_names(tmp_path):
    path = write(tmp_path, "train.tsv", b"id\ttext\tlabel\n1\tgreat\tpos\n2\tawful\tneg\n")

    corpus = read_corpus(path, ReadOptions(header=True, label_column="label", text_column="text"))

    assert corpus.labels == ["pos", "neg"]
    assert corpus.documents == ["great", "awful"]


def test_read_corpus_tsv_name_needs_header(tmp_path):
    path = write(tmp_path, "train.tsv", b"pos\tgreat\n")

    with pytest.raises(ConfigError):
        read_corpus(path, ReadOptions(label_column="label", text_column="text"))


# --------------------------------------------------------------------------- decoding


def test_read_corpus_latin1_encoding_option(tmp_path):
    content = b"pos\tgood film\nneg\tbad film\npos\tnice caf\xe9 here\n"
    path = write(tmp_path, "train_latin1.tsv", content)

    corpus = read_corpus(path, ReadOptions(encoding="latin-1"))

    assert corpus.documents[2] == "nice caf\u00e9 here"


def test_read_corpus_cp1252_encoding_option(tmp_path):
    path = write(tmp_path, "train_cp1252.tsv", b"pos\tgreat\nneg\tdon\x92t like it\n")

    corpus = read_corpus(path, ReadOptions(encoding="cp1252"))

    assert corpus.documents[1] == "don\u2019t like it"


def test_read_corpus_encoding_errors_replace(tmp_path):
    path = write(tmp_path, "train.tsv", b"pos\tcaf\xe9 ok\n")

    corpus = read_corpus(path, ReadOptions(encoding_errors="replace"))

    assert corpus.documents == ["caf\ufffd ok"]


def test_read_corpus_encoding_errors_ignore(tmp_path):
    path = write(tmp_path, "train.tsv", b"pos\tcaf\xe9 ok\n")

    corpus = read_corpus(path, ReadOptions(encoding_errors="ignore"))

    assert corpus.documents == ["caf ok"]


def test_read_corpus_utf16_with_bom(tmp_path):
    path = write(tmp_path, "train.tsv", "pos\tgreat\nneg\tawful\n".encode("utf-16"))

    corpus = read_corpus(path, ReadOptions(encoding="utf-16"))

    assert corpus.labels == ["pos", "neg"]


# --------------------------------------------------------------------------- file errors


def test_read_corpus_missing_file(tmp_path):
    path = str(tmp_path / "missing.tsv")

    with pytest.raises(DataError) as excinfo:
        read_corpus(path)

    assert str(excinfo.value) == f"{path}: file not found; check the path"


def test_read_corpus_directory_as_file(tmp_path):
    with pytest.raises(DataError) as excinfo:
        read_corpus(str(tmp_path), ReadOptions(format="tsv"))

    assert str(excinfo.value).startswith(f"{tmp_path}: is a directory, not a file")


def test_read_corpus_permission_denied(tmp_path, monkeypatch):
    path = write(tmp_path, "train.tsv", b"pos\tgreat\n")

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # Running as root ignores chmod, so the denial is simulated at open().
    monkeypatch.setattr(data, "open", deny, raising=False)
    with pytest.raises(DataError) as excinfo:
        read_corpus(path)

    assert str(excinfo.value) == f"{path}: permission denied; check the file's read permission"


# --------------------------------------------------------------------------- CSV


def test_read_corpus_csv_quoting(tmp_path):
    content = (
        b'label,text\n'
        b'pos,"great, fun"\n'
        b'neg,"he said ""dull"""\n'
        b'pos,"line one\nline two"\n'
        b'neg,plain\n'
    )
    path = write(tmp_path, "train.csv", content)

    corpus = read_corpus(path)

    assert corpus.documents == ["great, fun", 'he said "dull"', "line one\nline two", "plain"]
    assert corpus.labels == ["pos", "neg", "pos", "neg"]
    assert corpus.line_numbers == [2, 3, 4, 6]


def test_read_corpus_csv_crlf_and_bom(tmp_path):
    content = b'\xef\xbb\xbflabel,text\r\npos,"a\r\nb"\r\nneg,awful\r\n'
    path = write(tmp_path, "train.csv", content)

    corpus = read_corpus(path, ReadOptions(label_column="label", text_column="text"))

    assert corpus.labels == ["pos", "neg"]
    assert corpus.documents == ["a\nb", "awful"]


def test_read_corpus_csv_long_field(tmp_path):
    long_text = "x" * 200_000
    path = write(tmp_path, "train.csv", f"label,text\npos,{long_text}\nneg,short\n".encode())

    corpus = read_corpus(path)

    assert len(corpus.documents[0]) == 200_000
    assert corpus.documents[1] == "short"


def test_read_corpus_csv_column_by_index(tmp_path):
    path = write(tmp_path, "train.csv", b"id,body,category\n1,great,pos\n2,awful,neg\n")

    corpus = read_corpus(path, ReadOptions(label_column=2, text_column=1))

    assert corpus.labels == ["pos", "neg"]
    assert corpus.documents == ["great", "awful"]


def test_read_corpus_csv_blank_lines(tmp_path):
    path = write(tmp_path, "train.csv", b'label,text\n\npos,"a\n\nb"\n  \nneg,c\n')

    corpus = read_corpus(path)

    assert corpus.documents == ["a\n\nb", "c"]
    assert corpus.skipped_blank == [2, 6]


def test_read_corpus_csv_swapped_columns_warning(tmp_path, caplog):
    path = write(tmp_path, "train.csv", b"text,label\ngreat,pos\n")

    with caplog.at_level(logging.WARNING, logger="logreg_cli.data"):
        read_corpus(path)

    assert len(warnings_of(caplog)) == 1
    assert "set data.label_column: label and data.text_column: text" in warnings_of(caplog)[0]


# --------------------------------------------------------------------------- JSONL


def test_read_corpus_jsonl_values(tmp_path):
    content = (
        b'{"label": "pos", "text": "great fun"}\n'
        b'{"text": "awful", "label": "neg", "id": 7}\n'
    )
    path = write(tmp_path, "train.jsonl", content)

    corpus = read_corpus(path)

    assert corpus.labels == ["pos", "neg"]
    assert corpus.documents == ["great fun", "awful"]


def test_read_corpus_jsonl_numeric_labels(tmp_path):
    content = (
        b'{"label": 1, "text": "a"}\n'
        b'{"label": 0, "text": "b"}\n'
        b'{"label": -1, "text": "c"}\n'
        b'{"label": 1.0, "text": "d"}\n'
        b'{"label": "+1", "text": "e"}\n'
        b'{"label": true, "text": "f"}\n'
    )
    path = write(tmp_path, "train.jsonl", content)

    corpus = read_corpus(path)

    assert corpus.labels == ["1", "0", "-1", "1.0", "+1", "true"]


def test_read_corpus_jsonl_custom_keys(tmp_path):
    path = write(tmp_path, "train.ndjson", b'{"y": "pos", "body": "great"}\n')

    corpus = read_corpus(path, ReadOptions(label_key="y", text_key="body"))

    assert corpus.labels == ["pos"]
    assert corpus.documents == ["great"]


# --------------------------------------------------------------------------- fastText


def test_read_corpus_fasttext_values(tmp_path):
    path = write(tmp_path, "train.ft", b"__label__pos great fun\n__label__neg\tawful bore\n")

    corpus = read_corpus(path)

    assert corpus.labels == ["pos", "neg"]
    assert corpus.documents == ["great fun", "awful bore"]


def test_read_corpus_fasttext_comma_label(tmp_path, caplog):
    content = (
        b"__label__pos great fun\n"
        b"__label__pos, great time\n"
        b"__label__neg awful bore\n"
        b"__label__neg,awful night\n"
    )
    path = write(tmp_path, "train.txt", content)

    with caplog.at_level(logging.WARNING, logger="logreg_cli.data"):
        corpus = read_corpus(path)

    assert corpus.labels == ["pos", "pos,", "neg", "neg,awful"]
    assert warnings_of(caplog) == [
        f"{path}:2: label 'pos,' contains ','; a space is probably missing after the label",
        f"{path}:4: label 'neg,awful' contains ','; a space is probably missing after the label",
    ]


def test_read_corpus_fasttext_several_labels(tmp_path, caplog):
    content = b"__label__pos __label__fun great fun\n__label__neg awful\n__label__a __label__b x\n"
    path = write(tmp_path, "train.ft", content)

    with caplog.at_level(logging.WARNING, logger="logreg_cli.data"):
        corpus = read_corpus(path)

    assert corpus.labels == ["pos", "neg", "a"]
    assert corpus.documents == ["great fun", "awful", "x"]
    assert warnings_of(caplog) == [
        f"{path}: 2 lines have more than one label (lines 1, 3); "
        "only the first label of each line is used"
    ]


def test_read_corpus_fasttext_custom_prefix(tmp_path):
    path = write(tmp_path, "train.ft", b"#pos great\n#neg awful\n")

    corpus = read_corpus(path, ReadOptions(fasttext_prefix="#"))

    assert corpus.labels == ["pos", "neg"]


def test_read_corpus_txt_sniffs_tsv(tmp_path):
    path = write(tmp_path, "train.txt", b"\npos\tgreat\nneg\tawful\n")

    corpus = read_corpus(path)

    assert corpus.labels == ["pos", "neg"]


# --------------------------------------------------------------------------- folder


def test_read_corpus_folder_layout(tmp_path):
    root = tmp_path / "corpus"
    write_folder(root, {"pos": [b"great fun\n", b"nice"], "neg": [b"awful\r\n"]})
    (root / "pos" / ".hidden.txt").write_bytes(b"ignored")
    (root / ".git").mkdir()

    corpus = read_corpus(str(root))

    assert corpus.labels == ["neg", "pos", "pos"]
    assert corpus.documents == ["awful", "great fun", "nice"]
    assert corpus.line_numbers == [0, 0, 0]


def test_read_corpus_folder_nested_warning(tmp_path, caplog):
    root = tmp_path / "corpus"
    write_folder(root, {"pos": [b"great"], "neg": [b"awful"]})
    (root / "pos" / "more").mkdir()

    with caplog.at_level(logging.WARNING, logger="logreg_cli.data"):
        corpus = read_corpus(str(root))

    assert corpus.documents == ["awful", "great"]
    assert warnings_of(caplog) == [
        f"{root / 'pos'}: ignored 1 sub-folder; documents must be files directly inside the "
        "label folder"
    ]


def test_read_corpus_folder_label_with_space(tmp_path):
    root = tmp_path / "corpus"
    write_folder(root, {"very good": [b"great"], "very bad": [b"awful"]})

    corpus = read_corpus(str(root))

    assert corpus.labels == ["very bad", "very good"]


def test_read_corpus_folder_empty(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()

    with pytest.raises(DataError) as excinfo:
        read_corpus(str(root))

    assert str(excinfo.value).startswith(f"{root}: no sub-folders found")


def test_read_corpus_folder_empty_label(tmp_path):
    root = tmp_path / "corpus"
    write_folder(root, {"pos": [b"great"]})
    (root / "neg").mkdir()

    with pytest.raises(DataError) as excinfo:
        read_corpus(str(root))

    assert str(excinfo.value).startswith(f"{root / 'neg'}: no documents in this label folder")


def test_read_corpus_folder_decode_error(tmp_path):
    root = tmp_path / "corpus"
    write_folder(root, {"pos": [b"ok\ncaf\xe9"]})

    with pytest.raises(DataError) as excinfo:
        read_corpus(str(root))

    assert str(excinfo.value).startswith(f"{root / 'pos' / '0000.txt'}:2:4: invalid UTF-8")


# --------------------------------------------------------------------------- all formats


def test_read_corpus_formats_agree(tmp_path):
    tsv = "".join(f"{label}\t{text}\n" for label, text in SAMPLE)
    csv_rows = "".join(
        f'{label},"{text.replace(chr(34), chr(34) * 2)}"\n' for label, text in SAMPLE
    )
    jsonl = "".join(json.dumps({"label": label, "text": text}) + "\n" for label, text in SAMPLE)
    fasttext = "".join(f"__label__{label} {text}\n" for label, text in SAMPLE)
    paths = [
        write(tmp_path, "train.tsv", tsv.encode()),
        write(tmp_path, "train.csv", ("label,text\n" + csv_rows).encode()),
        write(tmp_path, "train.jsonl", jsonl.encode()),
        write(tmp_path, "train.ft", fasttext.encode()),
    ]
    folder: dict[str, list[bytes]] = {}
    for label, text in SAMPLE:
        folder.setdefault(label, []).append(text.encode() + b"\n")
    paths.append(write_folder(tmp_path / "folder", folder))

    for path in paths:
        corpus = read_corpus(path)
        assert corpus.documents == [text for _, text in SAMPLE], path
        assert corpus.labels == [label for label, _ in SAMPLE], path


def test_read_corpus_logs_label_counts(tmp_path, caplog):
    content = b"ham\thello\n" * 1200 + b"spam\twin\n" * 3
    path = write(tmp_path, "train.tsv", content)

    with caplog.at_level(logging.INFO, logger="logreg_cli.data"):
        read_corpus(path)

    infos = [record.getMessage() for record in caplog.records if record.levelno == logging.INFO]
    assert infos == [f"{path}: 1,203 documents, labels: ham 1,200, spam 3"]


# --------------------------------------------------------------------------- stdin, read_documents


def test_read_documents_stdin_every_line(monkeypatch):
    fake_stdin(monkeypatch, b"\xef\xbb\xbfgreat fun\r\n\ncaf\xc3\xa9\n   \nawful\n")

    documents, labels = read_documents("-")

    assert documents == ["great fun", "", "caf\u00e9", "   ", "awful"]
    assert labels is None


def test_read_corpus_stdin_tsv(monkeypatch):
    fake_stdin(monkeypatch, b"pos\tcaf\xc3\xa9\nneg\tawful\n")

    corpus = read_corpus("-")

    assert corpus.labels == ["pos", "neg"]
    assert corpus.documents == ["caf\u00e9", "awful"]
    assert corpus.path == "-"


def test_read_corpus_stdin_error_names_stdin(monkeypatch):
    fake_stdin(monkeypatch, b"pos\tgreat\nneg\tcaf\xe9\n")

    with pytest.raises(DataError) as excinfo:
        read_corpus("-")

    assert str(excinfo.value).startswith("<stdin>:2:8: invalid UTF-8 byte 0xE9")


_TEXT_PIECES = [b"a", b"b", b" ", b"\t", b"\r", b"\n", b"\r\n", b"\xef\xbb\xbf", b"\xc3\xa9", b"\xff", b"\xe2\x82", b"\x00"]


def _read_both(path: str, options: ReadOptions, block_size: int, read_size: int) -> tuple[object, object]:
    try:
        whole: object = read_documents(str(path), options)[0]
    except DataError as error:
        whole = str(error)
    try:
        streamed: object = [document for block in iter_text_documents(str(path), options, block_size=block_size,
                                                                       read_size=read_size) for document in block]
    except DataError as error:
        streamed = str(error)
    return whole, streamed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(_TEXT_PIECES), max_size=30), st.sampled_from(["utf-8", "latin-1"]),
       st.integers(1, 4), st.integers(1, 8))
def test_iter_text_documents_equals_read_documents(tmp_path, pieces, encoding, block_size, read_size):
    # The same documents, or the same error with its line and column, for any split of the bytes.
    path = write(tmp_path, "input.txt", b"".join(pieces))
    whole, streamed = _read_both(path, ReadOptions(format="text", encoding=encoding), block_size, read_size)
    assert streamed == whole


def test_iter_text_documents_blocks_and_stdin(monkeypatch):
    fake_stdin(monkeypatch, b"\xef\xbb\xbfone\r\ntwo\n\nfour\nfive")

    blocks = list(iter_text_documents("-", ReadOptions(), block_size=2, read_size=3))

    assert blocks == [["one", "two"], ["", "four"], ["five"]]


def test_iter_text_documents_names_line_of_invalid_byte(tmp_path):
    path = write(tmp_path, "input.txt", b"one\ntwo\nthr\xe9e\n")

    with pytest.raises(DataError, match=r"input\.txt:3:4: invalid UTF-8 byte 0xE9"):
        list(iter_text_documents(str(path), ReadOptions(), read_size=2))


_TSV_PIECES = _TEXT_PIECES + [b"pos\t", b"neg\t", b"\tx", b" \t"]


def _read_labelled_both(path: str, options: ReadOptions, block_size: int, read_size: int,
                        caplog: pytest.LogCaptureFixture) -> tuple[object, object]:
    """Return what read_corpus and iter_labelled_chunks give: fields and log lines, or the error."""
    results = []
    for read in (lambda: [read_corpus(path, options)],
                 lambda: list(iter_labelled_chunks(path, options, block_size=block_size, read_size=read_size))):
        caplog.clear()
        try:
            chunks = read()
            result: object = [[value for chunk in chunks for value in getattr(chunk, name)]
                              for name in ("documents", "labels", "line_numbers")]
        except DataError as error:
            result = str(error)
        results.append((result, [record.getMessage() for record in caplog.records]))
    return results[0], results[1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(_TSV_PIECES), max_size=30), st.sampled_from(["utf-8", "latin-1"]),
       st.integers(1, 4), st.integers(1, 8), st.booleans(), st.sampled_from([(0, 1), (1, 0), (0, 2)]))
def test_iter_labelled_chunks_equals_read_corpus(tmp_path, caplog, pieces, encoding, block_size, read_size, header,
                                                 columns):
    # The same documents, labels, lines and log lines, or the same error, for any split of the bytes.
    caplog.set_level(logging.INFO)
    path = write(tmp_path, "input.tsv", b"".join(pieces))
    options = ReadOptions(encoding=encoding, header=header, label_column=columns[0], text_column=columns[1])

    whole, streamed = _read_labelled_both(path, options, block_size, read_size, caplog)

    if isinstance(whole[0], str) and "invalid" in whole[0] and "byte" in whole[0]:
        # read_corpus decodes the whole file before it parses a line, so an invalid byte comes first there.
        # The chunks parse each run of lines once it is decoded, so a malformed line before that byte comes first.
        assert isinstance(streamed[0], str)
    else:
        assert streamed == whole


def test_iter_labelled_chunks_blocks_of_lines(tmp_path):
    path = write(tmp_path, "input.tsv", b"\xef\xbb\xbfpos\tone\r\nneg\ttwo\n\npos\tfour\nneg\tfive")

    chunks = list(iter_labelled_chunks(path, ReadOptions(), block_size=2, read_size=3))

    assert [chunk.documents for chunk in chunks] == [["one", "two"], ["four"], ["five"]]
    assert [chunk.line_numbers for chunk in chunks] == [[1, 2], [4], [5]]
    assert [chunk.skipped_blank for chunk in chunks] == [[], [3], []]


def test_streams_labelled_only_tsv_by_index(tmp_path):
    assert streams_labelled("test.tsv", ReadOptions())
    assert streams_labelled("-", ReadOptions(format="tsv"))
    assert not streams_labelled("-", ReadOptions())
    assert not streams_labelled("test.csv", ReadOptions())
    assert not streams_labelled("test.tsv", ReadOptions(encoding="utf-16"))
    assert not streams_labelled("test.tsv", ReadOptions(header=True, label_column="label"))
    assert not streams_labelled(str(tmp_path), ReadOptions(format="tsv"))


def test_streams_text_only_ascii_compatible_text(tmp_path):
    assert streams_text("-", ReadOptions())
    assert streams_text("in.txt", ReadOptions(encoding="latin-1"))
    assert not streams_text("in.txt", ReadOptions(encoding="utf-16"))
    assert not streams_text("in.tsv", ReadOptions())
    assert not streams_text(str(tmp_path), ReadOptions(format="text"))


def test_read_documents_txt_keeps_blank_lines(tmp_path):
    path = write(tmp_path, "input.txt", b"great fun\n\nawful\n   \n")

    documents, labels = read_documents(path)

    assert documents == ["great fun", "", "awful", "   "]
    assert labels is None


def test_read_documents_text_unicode_separators(tmp_path):
    path = write(tmp_path, "input.txt", "a\u2028b\x85c\x0cd\ne\n".encode())

    documents, _ = read_documents(path)

    assert documents == ["a\u2028b\x85c\x0cd", "e"]


def test_read_documents_empty_file(tmp_path):
    path = write(tmp_path, "input.txt", b"")

    documents, labels = read_documents(path)

    assert documents == []
    assert labels is None


def test_read_documents_tsv_returns_labels(tmp_path):
    path = write(tmp_path, "test.tsv", b"pos\tgreat\nneg\tawful\n")

    documents, labels = read_documents(path)

    assert documents == ["great", "awful"]
    assert labels == ["pos", "neg"]


def test_read_documents_explicit_text_format(tmp_path):
    path = write(tmp_path, "input.tsv", b"pos\tgreat\n")

    documents, labels = read_documents(path, ReadOptions(format="text"))

    assert documents == ["pos\tgreat"]
    assert labels is None


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("train.tsv", "tsv"),
        ("train.TSV", "tsv"),
        ("train.csv", "csv"),
        ("train.jsonl", "jsonl"),
        ("train.ndjson", "jsonl"),
        ("train.ft", "fasttext"),
        ("train.fasttext", "fasttext"),
        ("input.txt", "text"),
        ("train.data", "tsv"),
        ("train", "tsv"),
        ("-", "text"),
    ],
)
def test_detect_format_by_name(name, expected):
    assert detect_format(name) == expected


def test_detect_format_directory(tmp_path):
    assert detect_format(str(tmp_path)) == "folder"


@pytest.mark.parametrize(
    "options",
    [
        ReadOptions(format="xml"),
        ReadOptions(encoding="no-such-codec"),
        ReadOptions(encoding_errors="surrogateescape"),
        ReadOptions(label_column=1, text_column=1),
        ReadOptions(label_column=-1),
        ReadOptions(label_column=True),
        ReadOptions(fasttext_prefix=""),
    ],
    ids=["format", "encoding", "errors", "same-column", "negative", "bool", "prefix"],
)
def test_read_corpus_invalid_options(tmp_path, options):
    path = write(tmp_path, "train.tsv", b"pos\tgreat\n")

    with pytest.raises(ConfigError):
        read_corpus(path, options)


def test_read_corpus_text_format_rejected(tmp_path):
    path = write(tmp_path, "train.tsv", b"pos\tgreat\n")

    with pytest.raises(ConfigError):
        read_corpus(path, ReadOptions(format="text"))


# --------------------------------------------------------------------------- duplicates and overlap


def duplicates_corpus() -> Corpus:
    texts = ["great fun", "awful bore", "love it", "hate it", "superb show", "dull show",
             "great fun", "great fun"]
    labels = ["pos", "neg", "pos", "neg", "pos", "neg", "pos", "neg"]
    return Corpus(texts, labels, list(range(1, 9)), "train.tsv")


def test_find_duplicates_conflicting_labels():
    messages = find_duplicates(duplicates_corpus())

    assert messages == [
        "train.tsv: text 'great fun' occurs 3 times with conflicting labels "
        "(lines 1, 7: pos; line 8: neg)"
    ]


def test_find_duplicates_same_label_ignored():
    corpus = Corpus(["a", "a", "b"], ["pos", "pos", "neg"], [1, 2, 3], "train.tsv")

    assert find_duplicates(corpus) == []


def test_find_duplicates_caps_messages():
    texts = [f"text {i // 2}" for i in range(16)]
    labels = ["pos", "neg"] * 8
    corpus = Corpus(texts, labels, list(range(1, 17)), "train.tsv")

    messages = find_duplicates(corpus)

    assert len(messages) == 6
    assert messages[0].startswith("train.tsv: text 'text 0' occurs 2 times")
    assert messages[5] == "train.tsv: 3 more texts occur with conflicting labels"


def test_find_duplicates_folder_counts():
    corpus = Corpus(["a", "a", "a"], ["neg", "pos", "pos"], [0, 0, 0], "corpus")

    messages = find_duplicates(corpus)

    assert messages == ["corpus: text 'a' occurs 3 times with conflicting labels (neg 1; pos 2)"]


def test_overlap_message_verbatim_and_normalized():
    test_documents = ["great fun", "dreadful night", "love it", "Great  Fun"]

    message = overlap_message(duplicates_corpus(), test_documents, "test.tsv")

    assert message == (
        "test.tsv: 2 of 4 test documents (50.0%) also occur verbatim in the training corpus "
        "train.tsv (test lines 1, 3); 3 (75.0%) after case folding and whitespace normalization"
    )


# ASCII characters that str.split() treats as whitespace and bytes.split() does not (0x1C to 0x1F), beside the usual kinds.
_NORMALIZATION_ALPHABET = "aZ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000\u212a\u00df\u0130"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_NORMALIZATION_ALPHABET) | st.text(alphabet=st.characters(max_codepoint=127)) | st.text())
def test_document_hashes_match_string_normalization(text):
    # ASCII text is normalized on its bytes; the digests must be those of str.casefold() and str.split().
    expected = b"".join(hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).digest()
                        for value in (text, " ".join(text.casefold().split())))

    assert document_hashes([text]).astype("<u8").tobytes() == expected


def test_document_hashes_match_across_ascii_and_other_text():
    # "K" (Kelvin sign) case-folds to "k": the ASCII and the other path must meet.
    hashes = document_hashes(["\u212a\x1cA\t b ", "k a b", "ka b"])

    assert hashes[0, 1] == hashes[1, 1] != hashes[2, 1]
    assert document_hashes([]).shape == (0, 2)


def test_overlap_message_no_overlap():
    assert overlap_message(duplicates_corpus(), ["new text", ""], "test.tsv") is None


def test_overlap_message_ignores_empty_documents():
    train = Corpus(["", "great"], ["pos", "neg"], [1, 2], "train.tsv")

    message = overlap_message(train, ["", "great"], "test.tsv")

    assert message == (
        "test.tsv: 1 of 2 test documents (50.0%) also occur verbatim in the training corpus "
        "train.tsv (test line 2)"
    )


def test_overlap_message_uses_line_numbers():
    message = overlap_message(
        duplicates_corpus(), ["x", "love it"], "test.tsv", test_line_numbers=[3, 9]
    )

    assert message is not None
    assert "(test line 9)" in message


# --------------------------------------------------------------------------- properties and the real corpus

FRAGMENTS = [b"\t", b"\n", b"\r", b" ", b'"', b",", b"\xef\xbb\xbf", b"__label__", b"{", b"}",
             b'"label"', b'"text"', b":", b"[", b"1", b"\xe9", b"\xe2\x80\xa8", b"pos", b"\x00"]


@pytest.mark.parametrize("name", ["train.tsv", "train.csv", "train.jsonl", "train.ft", "train.txt"])
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    content=st.binary(max_size=200)
    | st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(b"".join)
)
def test_read_corpus_any_bytes_only_dataerror(tmp_path, name, content):
    path = write(tmp_path, name, content)

    try:
        corpus = read_corpus(path)
    except DataError:
        return

    assert isinstance(corpus, Corpus)
    assert len(corpus.documents) == len(corpus.labels) == len(corpus.line_numbers)
    assert all(label and label == label.strip() for label in corpus.labels)


def test_read_corpus_imdb_counts():
    path = corpus_dir("imdb_aclimdb") / "train.tsv"
    corpus = read_corpus(str(path))
    assert len(corpus) == 25_000
    assert sorted(set(corpus.labels)) == ["neg", "pos"]


def test_bare_text_with_tabs_warns(tmp_path, caplog):
    path = tmp_path / "labelled.txt"
    path.write_text("neg\tbad film\npos\tgood film\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="logreg_cli"):
        documents, labels = read_documents(str(path))
    assert documents == ["neg\tbad film", "pos\tgood film"]
    assert labels is None
    assert "pass --format tsv" in caplog.text


def test_bare_text_some_tabs_no_warning(tmp_path, caplog):
    path = tmp_path / "notes.txt"
    path.write_text("a\tb\nplain line\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="logreg_cli"):
        read_documents(str(path))
    assert "--format tsv" not in caplog.text
