"""Personal data: masking (``masking``) and audited disclosure (``service``)."""
