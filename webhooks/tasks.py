"""The webhooks' tasks, enqueued by name (config.events, webhooks.delivery)."""

from celery import shared_task

from webhooks import delivery


@shared_task(name="webhooks.record_event")
def record_event(message_id: str, event: str, timestamp: str, data: dict) -> int:
    return delivery.record_event(message_id=message_id, event=event, timestamp=timestamp, data=data)


@shared_task(name="webhooks.deliver")
def deliver(delivery_id: int) -> str:
    return delivery.deliver(delivery_id)


@shared_task(name="webhooks.deliver_due")
def deliver_due() -> int:
    return delivery.deliver_due()
