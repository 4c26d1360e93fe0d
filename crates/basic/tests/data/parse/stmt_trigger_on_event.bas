TRIGGER ON EVENT "order_created"
TALK "New order " & event.data.id
PUBLISH EVENT "order_seen" WITH {"id": event.data.id}
