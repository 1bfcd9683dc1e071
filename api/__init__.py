"""Racetrack's server side: lifecycle REST API, database, auth, pub gateway and dashboard."""
