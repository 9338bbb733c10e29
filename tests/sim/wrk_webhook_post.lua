-- wrk script: POST a ~400-byte JSON status callback to the simulator's webhook receiver.
-- Run reach-sim without --webhook-secret (unsigned requests are accepted, recorded verified=false):
--   wrk -t1 -c64 -d5s -s tests/sim/wrk_webhook_post.lua http://127.0.0.1:PORT/webhook/bench
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["webhook-id"] = "msg_2mHzKbVr0fN6bench000000000"
wrk.body = '{"type":"notification.delivered","timestamp":"2026-11-24T09:00:00.000Z",' ..
  '"data":{"message_id":"m_0000000000000001","campaign_id":"c_42","channel":"email",' ..
  '"provider":"smtp","recipient":"u***@example.com","status":"delivered",' ..
  '"provider_message_id":"0000000001A","attempt":1,"accepted_at":"2026-11-24T08:59:59.120Z",' ..
  '"delivered_at":"2026-11-24T09:00:00.000Z","error":null,"metadata":{"locale":"zh-CN",' ..
  '"template":"order_shipped","priority":"normal"}}}'
