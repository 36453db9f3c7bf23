"""Readers: event logs (the victim-journey standard), the force table, and public open data.

A lower layer: it may use :mod:`attrition.standard` and :mod:`attrition.config`, never the generator,
the models or the report.
"""
