"""attrition: where stalking cases drop out between report and conviction.

Data flow: journeys (``attrition.data``, ``attrition.synthetic``) -> models (``attrition.funnel``,
``attrition.survival``, ``attrition.effects``) -> tidy tables -> figures (``attrition.plotting``).
"""
__version__ = "0.1.0"
