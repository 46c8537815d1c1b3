"""HTTP and Socket.IO resources of the app; the namespaces live in resources/socket/."""
