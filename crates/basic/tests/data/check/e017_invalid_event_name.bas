TRIGGER ON EVENT "order created"
ON EVENT "" DO
  TALK "empty"
END ON
PUBLISH EVENT "order paid!"
PUBLISH EVENT "order.paid-v2_ok"
WAIT FOR EVENT "café" TIMEOUT 10
PUBLISH EVENT "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
name = "computed names are not checked"
PUBLISH EVENT name
