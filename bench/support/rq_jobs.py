"""The RQ baseline's job function."""


def noop(n: int = 0) -> None:
    return None
