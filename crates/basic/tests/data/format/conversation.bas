talk "Hello"
talk to "+5511999", "A direct message"
begin talk
Hello ${name},
  your order is ready.
end talk
BEGIN SYSTEM PROMPT
You are a helpful assistant.
Answer briefly.
END SYSTEM PROMPT
hear answer
hear age as integer
hear choice as "yes,no,maybe"
print "got " & answer
wait 5
delay "2h"
set bot memory "last", answer
remember "color", "blue"
remember "color", "blue", "30 days"
bot share memory "color" with "other-bot"
bot sync memory from "other-bot"
post "https://example.com/api", {"a": 1}
put "https://example.com/api/1", data
patch "https://example.com/api/1", {"b": 2}
delete http "https://example.com/api/1"
set header "Authorization", "Bearer " & token
clear headers
send mail "a@b.com", "Subject", "Body text"
