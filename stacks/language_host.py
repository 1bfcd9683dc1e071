"""Racetrack's Python language host: the `pulumi-language-python` plugin, written in Python.

`pulumi up` on a *local* Python program (the `platform/` bootstrap) needs a language host, a plugin the
engine starts and asks over gRPC to run the program. Pulumi's own host is a Go module that the Go
module proxy here does not serve, so this one stands in for it. It reuses the Automation API's
`LanguageServer` (the server inline stacks use) and gives it, as the program, the project's `main`
directory run with `runpy`, in this process.

The engine starts it as `pulumi-language-python [-flag=value ...] <engine address>`, reads the port
it prints on stdout, then calls Handshake, GetRequiredPackages, Run, ... . Dependencies are the
virtual environment's business (`make setup`), so InstallDependencies does nothing, and no plugin is
named ahead of the run: the engine loads providers when the program first registers a resource.

Installed by `make setup` as a small launcher next to the built `pulumi` binary:

    python -m stacks.language_host install ~/.cache/racetrack/pulumi/v3.276.0/bin

The launcher runs this file with the project's interpreter and `-P`, so that `stacks/` (which holds
a `docker` package) never shadows an installed module.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import runpy
import signal
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.automation._server import LanguageServer
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

__all__ = ["ProgramLanguageServer", "serve", "launcher_text", "install_launcher", "main"]

PLUGIN_NAME = "pulumi-language-python"


def _sdk_version() -> str:
    return importlib.metadata.version("pulumi")


class ProgramLanguageServer(LanguageServer):
    """Runs a project's Python program (a directory with `__main__.py`, or a file) in this process."""

    def __init__(self, engine_address: str, root_directory: str | None = None) -> None:
        super().__init__(self._run_program)
        self.engine_address = engine_address
        self.root_directory = root_directory
        self._program_path: str | None = None

    # Protocol ---------------------------------------------------------------------------------

    def Handshake(self, request: Any, context: Any) -> Any:
        self.engine_address = request.engine_address or self.engine_address
        self.root_directory = request.root_directory or self.root_directory
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return plugin_pb2.PluginInfo(version=_sdk_version())

    def InstallDependencies(self, request: Any, context: Any) -> Iterator[Any]:
        return iter(())  # `make setup` owns the virtual environment

    def RuntimeOptionsPrompts(self, request: Any, context: Any) -> Any:
        return language_pb2.RuntimeOptionsResponse()

    def GetProgramDependencies(self, request: Any, context: Any) -> Any:
        found = sorted(
            {
                (dist.metadata["Name"], dist.version)
                for dist in importlib.metadata.distributions()
                if (dist.metadata["Name"] or "").lower().startswith("pulumi")
            }
        )
        return language_pb2.GetProgramDependenciesResponse(
            dependencies=[language_pb2.DependencyInfo(name=name, version=version) for name, version in found]
        )

    def Cancel(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()

    def Run(self, request: Any, context: Any) -> Any:
        root = request.info.root_directory or self.root_directory or request.pwd
        program = _program_path(request, root)
        self.root_directory = root
        self._program_path = program
        # The base class reads the engine address from args[0], which is where inline runs put it;
        # a local program's args are its own, so they are replaced for this call only.
        patched = language_pb2.RunRequest()
        patched.CopyFrom(request)
        del patched.args[:]
        patched.args.append(self.engine_address)
        if request.pwd:
            os.chdir(request.pwd)
        sys.argv = [program, *request.args]
        # Pulumi's generated gRPC servicer is untyped.
        return super().Run(patched, context)  # type: ignore[no-untyped-call]

    # The program ------------------------------------------------------------------------------

    def _run_program(self) -> None:
        assert self._program_path is not None
        runtime_settings.SETTINGS.root_directory = self.root_directory
        # The project root first, so that the program imports this checkout's modules.
        if self.root_directory and self.root_directory not in sys.path:
            sys.path.insert(0, self.root_directory)
        runpy.run_path(self._program_path, run_name="__main__")


def _program_path(request: Any, root: str) -> str:
    """The file or directory to run: Pulumi.yaml's `main` (program_directory), else the working dir."""
    directory = request.info.program_directory or request.program or request.pwd or root
    entry = request.info.entry_point or "."
    path = Path(directory) / entry if entry != "." else Path(directory)
    if not path.exists():
        raise FileNotFoundError(f"the program {path} does not exist (see `main` in Pulumi.yaml)")
    if path.is_dir() and not (path / "__main__.py").is_file():
        raise FileNotFoundError(f"the program directory {path} has no __main__.py")
    return str(path)


def serve(engine_address: str, root_directory: str | None = None) -> None:
    """Starts the gRPC server, prints its port (the plugin protocol) and serves until stopped."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=_GRPC_CHANNEL_OPTIONS)
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(
        ProgramLanguageServer(engine_address, root_directory), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    server.stop(grace=2)


def _parse_plugin_args(argv: list[str]) -> tuple[str, str | None]:
    """`[-root=DIR] [-other=value ...] ENGINE_ADDRESS` -> (engine address, root directory)."""
    engine = ""
    root = None
    for arg in argv:
        if arg.startswith("-"):
            key, _, value = arg.lstrip("-").partition("=")
            if key == "root":
                root = value
        else:
            engine = arg
    return engine, root


def launcher_text(python: str, script: str) -> str:
    return (
        "#!/bin/sh\n"
        "# Racetrack's Python language host for the Pulumi engine (written by `make setup`).\n"
        f'exec "{python}" -P -u "{script}" "$@"\n'
    )


def install_launcher(bin_dir: Path, *, python: str | None = None) -> Path:
    """Writes `bin_dir/pulumi-language-python`; leaves it alone when it already says the same."""
    target = bin_dir / PLUGIN_NAME
    text = launcher_text(python or sys.executable, str(Path(__file__).resolve()))
    if not (target.is_file() and target.read_text(encoding="utf-8") == text):
        bin_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{PLUGIN_NAME}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.chmod(0o755)
        partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["install"]:
        parser = argparse.ArgumentParser(prog="python -m stacks.language_host install")
        parser.add_argument("bin_dir", type=Path, help="the folder holding the built `pulumi` binary")
        parser.add_argument("--python", help="interpreter that runs programs (default: this one)")
        options = parser.parse_args(args[1:])
        print(install_launcher(options.bin_dir, python=options.python))
        return 0
    engine, root = _parse_plugin_args(args)
    serve(engine, root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
