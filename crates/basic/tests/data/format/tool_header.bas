param name as string like "Ann" description "The customer's name"
PARAM age AS integer
param email
description "Registers a customer"
use kb "products"
use tool "lookup.bas"
add tool "other.bas"
clear tools
set context "sales"
add suggestion "yes"
add suggestion "no" as "No, thanks"
clear suggestions
set schedule "0 9 * * 1-5"
trigger on event "order_created"
add bot "helper" with trigger "help, support"
add bot "scheduler" with schedule "every 5 minutes"
ADD BOT "toolbox" WITH TOOLS "a, b"
ADD BOT "plain"
remove bot "helper"
delegate to "sales-bot"
