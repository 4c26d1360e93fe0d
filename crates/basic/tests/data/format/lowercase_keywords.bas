talk "Hello, what is your name?"
hear name
if len(name) > 0 then
talk "Nice to meet you, " & name
else
talk "No name, no problem."
end if
for each item in items
print item
next item
x = 1
Let y = x + 2
print y
