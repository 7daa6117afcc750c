"""moto emulation of AWS IoT OTA updates and streams (see issue 3); filled in by its own work."""
