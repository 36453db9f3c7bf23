"""placeholder"""
class MultiStateFitter:
    pass
