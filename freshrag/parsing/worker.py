"""A parser process: `python -m freshrag.parsing.worker MEMORY_BYTES`, started by `ParserPool`.

It parses one file at a time, in one thread, under an address-space limit (RLIMIT_AS): requests arrive on
its standard input, answers leave on its standard output (see `protocol`). It exits when its input closes (the
pool closed, or the process that started it died) and after running out of memory, which may leave a native
parser's state half-built.
"""

from __future__ import annotations

import os
import resource
import sys
from multiprocessing.connection import Connection

import freshrag.parsing  # noqa: F401  (the parsers and their native libraries load before the limit applies)
from freshrag.parsing.model import Failed
from freshrag.parsing.protocol import READY, decode_request, encode_result, resolve_parser


def main(argv: list[str]) -> int:
    memory_bytes = int(argv[1])
    requests: Connection[bytes, bytes] = Connection(os.dup(0), writable=False)
    answers: Connection[bytes, bytes] = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # whatever a parser prints goes to standard error, never into the answers
    _limit_address_space(memory_bytes)
    answers.send_bytes(READY)
    exceeded = encode_result(Failed(f"parser exceeded {memory_bytes // 2**20} MiB"), retire=True)
    while True:
        try:
            answer, retire = _answer(requests)
        except EOFError:
            return 0
        except MemoryError:
            answer, retire = exceeded, True
        answers.send_bytes(answer)
        if retire:
            return 0


def _answer(requests: Connection[bytes, bytes]) -> tuple[bytes, bool]:
    """Read one request and parse it; a parser's exception is a `Failed` result, not this process' end."""
    header = requests.recv_bytes()
    data = requests.recv_bytes()  # read before anything can fail, so the next request starts in step
    reference, fallback_title, options = decode_request(header)
    try:
        result = resolve_parser(reference)(data, fallback_title, options)
    except MemoryError:
        raise
    except Exception as exc:  # a parser bug or a hostile file: reported as that file's failure
        result = Failed(f"parser raised {type(exc).__name__}: {exc}")
    del data
    return encode_result(result, retire=False), False


def _limit_address_space(memory_bytes: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
