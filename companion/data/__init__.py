"""Data for the course: generated from explicit seeds (:mod:`companion.data.tasks`) or shipped with
the package. Nothing is ever downloaded."""
