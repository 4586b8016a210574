"""``python -m m2v_grpc [serve] --model NAME=PATH ...``: run the server (as ``m2v serve``)."""

from m2v_grpc._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
