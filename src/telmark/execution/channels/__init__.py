"""Channels: how a rendered message leaves telmark (protocol layer only, no database).

``base`` is the interface the dispatcher uses; ``smpp`` (SMS), ``email`` (SMTP)
and ``webhook`` (app push / WeChat-style) implement it; ``calls`` writes and
reads the files of outbound-call campaigns; ``sms_text`` is SMS encoding and
segmentation, shared with the template preview; ``config`` their settings.
"""
