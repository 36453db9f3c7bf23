"""A kernel manager for running the report notebooks quietly: IPC transport, no interrupt at shutdown.

Two messages from ipykernel used to fill the log of ``attrition report`` and ``tools/build_notebooks.py``
without saying anything about the notebooks:

* "Kernel is running over TCP without encryption ..." (ipykernel >= 7 warns whenever the kernel listens on
  TCP): on POSIX systems the kernel talks to us over Unix sockets (``transport="ipc"``) in a private
  temporary directory instead, which is also safer than unencrypted TCP on localhost;
* "KeyboardInterrupt caught in kernel" (jupyter_client interrupts the kernel before asking it to shut
  down, in case a cell is still running): when the notebook has finished, the kernel is idle, so the
  interrupt is skipped. A kernel that does not shut down when asked is still killed.

Every other kernel message, and every error, still reaches the terminal.
"""
from __future__ import annotations

import os
import shutil
import tempfile

from jupyter_client.manager import AsyncKernelManager

__all__ = ["QuietKernelManager"]


class QuietKernelManager(AsyncKernelManager):
    """``AsyncKernelManager`` over IPC sockets (POSIX) that does not interrupt an idle kernel to stop it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._ipc_dir = None
        if os.name == "posix":
            self._ipc_dir = tempfile.mkdtemp(prefix="attrition-kernel-")
            self.transport = "ipc"
            self.ip = os.path.join(self._ipc_dir, "kernel")

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:  # asked to stop after the notebook finished: nothing to interrupt
            return
        await super()._async_interrupt_kernel()

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._ipc_dir is not None:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)
            self._ipc_dir = None
