"""pytest plugin for looplab, registered through the ``pytest11`` entry point."""
