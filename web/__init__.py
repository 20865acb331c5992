"""The read-only web interface onto an archive (``zhengwen serve``); it imports `storage` only."""
