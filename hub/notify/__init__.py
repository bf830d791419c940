"""Notifications of alarms: the tenants' channels, and the delivery of alarm events to them.

:mod:`hub.notify.channels` keeps the channels; :mod:`hub.notify.dispatcher` follows the stored ``alarm.``
events and hands each to the channels it names, one sender per channel kind (``webhook``, ``mail``, ``mqtt``,
``stream``) behind :class:`hub.notify.base.Sender`.
"""
