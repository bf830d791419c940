"""The apps' links: the tunnels nodes open to the hub, and the proxy serving /apps/{tenant}/{app}/ through them."""
