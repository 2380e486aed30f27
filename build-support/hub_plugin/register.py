"""Monitoring Hub's Pants plugin: exporter targets over the `hub` engine."""

from hub_plugin import engine, lint_rules, package_rules, pins, publish_rules
from hub_plugin import target_types as _target_types
from hub_plugin import site_rules, state_goals, target_types_rules, update_lock, upstream


def target_types():
    return _target_types.target_types()


def rules():
    return (
        *engine.rules(),
        *target_types_rules.rules(),
        *upstream.rules(),
        *pins.rules(),
        *package_rules.rules(),
        *publish_rules.rules(),
        *site_rules.rules(),
        *lint_rules.rules(),
        *update_lock.rules(),
        *state_goals.rules(),
    )
