"""``python -m m2v_grpc [serve] --model NAME=PATH ...``: run the server (as ``m2v serve``);
``python -m m2v_grpc health [--address HOST:PORT]``: one health check (container HEALTHCHECK)."""

from m2v_grpc._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
