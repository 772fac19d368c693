// Registers a device through the official Node.js device SDK's `register()` with
// `registerURL` pointing at the platform, and prints what the SDK's callback receives as
// one JSON line. Arguments: registerURL productKey productSecret deviceName [random].
const { register } = require("aliyun-iot-device-sdk");

const [registerURL, productKey, productSecret, deviceName, random] = process.argv.slice(2);
register({ productKey, productSecret, deviceName, random, registerURL }, (res) => {
  // A refusal reaches the callback as the answer's body (or as an HTTP error).
  const body = res && res.response ? { httpStatus: res.response.status } : res;
  console.log(JSON.stringify(body));
});
