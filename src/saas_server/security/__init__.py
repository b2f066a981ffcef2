"""Security metrics, threat detection and the IP block list, tenant security scans."""
