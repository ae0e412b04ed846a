"""Following logs live: the watcher that notices new bytes and the hub that fans commits out."""
