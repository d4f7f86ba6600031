"""Target-customer segments: the rule language (``rules``, ``fields``) and its compiler."""
