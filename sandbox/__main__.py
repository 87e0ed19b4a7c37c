"""Serve the fake platforms: ``python -m publishers.fakes --port 8765``."""

from __future__ import annotations

import argparse
import logging
import time

from sandbox import FakePlatform


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve fake social-platform APIs on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="added to every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    fake = FakePlatform(args.host, args.port, latency_ms=args.latency_ms)
    print(f"fake platforms at {fake.start()} (Ctrl+C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
