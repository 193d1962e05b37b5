-- POST a request to the intake API, rotating through requests in the three languages and five types.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local bodies = {
  '{"type":"leave_service","language":"ru","answers":{"danger_now":"yes","where_now":"front","goal":"surrender"},' ..
    '"message":"Нас отправляют на штурм под Покровском через два дня. Как сдаться в плен безопасно?"}',
  '{"type":"avoid_mobilisation","language":"ru","answers":{"danger_now":"unsure","summons":"yes","location":"russia"},' ..
    '"message":"Мне принесли повестку на работу в Казани. Что делать, чтобы не попасть на фронт?"}',
  '{"type":"relative","language":"uk","answers":{"danger_now":"no","relation":"child","their_situation":"missing"},' ..
    '"message":"Мій син зник безвісти під Бахмутом три тижні тому. Допоможіть дізнатися, де він."}',
  '{"type":"legal","language":"en","answers":{"danger_now":"no","topic":"contract"},' ..
    '"message":"My contract ended last month but the unit will not discharge me. Is that legal?"}',
  '{"type":"other","language":"en","answers":{"danger_now":"no"},' ..
    '"message":"Can you help my brother get documents to leave for Georgia?"}',
}
local i = 0

request = function()
  i = i % #bodies + 1
  return wrk.format("POST", nil, nil, bodies[i])
end
