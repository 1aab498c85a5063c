"""The README's 30-second example runs and prints what it says it prints."""

import re
from pathlib import Path

import hopwire

README = Path(__file__).resolve().parent.parent / "README.md"


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README lost its Python example"
    return blocks[0]


def test_readme_example_runs(capsys):
    exec(compile(_example(), "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Request(method=b'GET', target=b'/x', headers=[(b'host', b'example.com')]")
    assert out[1] == "EndOfMessage(headers=[])"
    assert out[2] == "400 20 whitespace between field name and colon (RFC 9112 §5.1)"


def test_readme_example_claims():
    parser = hopwire.RequestParser()
    parser.feed(b"GET /x HTTP/1.1\r\nHost: example.com\r\n\r\nPOST /y HT")
    events = parser.feed(b"TP/1.1\r\nContent-Length: 2\r\n\r\nhi")
    assert [type(e).__name__ for e in events] == ["Request", "Data", "EndOfMessage"]
    assert events[1].data == b"hi"
    responses = hopwire.ResponseParser()
    responses.expect(b"HEAD")
    events = responses.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
    assert [type(e).__name__ for e in events] == ["Response", "EndOfMessage"]


def test_readme_pool_example_runs(capsys, fault_server):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    pool_examples = [block for block in blocks if "hopwire.Pool(" in block]
    assert pool_examples, "README lost its pool example"
    server = fault_server()
    code = pool_examples[0].replace('URL = "http://127.0.0.1:8080"', f'URL = "{server.url}"')
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "200 b'text/plain' False"
    assert out[1].startswith("[0, 1, 2")  # answers came through one pipeline
    assert server.requests("POST", "/upload")[0].body == b"streamed chunked"
