// The Node peer of bench/peers/run: what a site would write instead of signgate.
//
// GET /files/<key> with `Authorization: Bearer <HS256 JWT>` -> jsonwebtoken checks the token
// (issuer, audience, expiry, HS256 only) -> the key must lie under users/<sub>/ ->
// @aws-sdk/cloudfront-signer signs a canned-policy URL (RSA-SHA1) valid 300 s -> 302.
// 401 without a valid token, 403 for someone else's key. One process, no cluster.
//
// PEER_NODE_KEY=pem passes the PEM text to getSignedUrl on every call, as the SDK's own example
// does (Node parses the key each time); PEER_NODE_KEY=keyobject passes a KeyObject parsed once.
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const express = require("express");
const jwt = require("jsonwebtoken");
const { getSignedUrl } = require("@aws-sdk/cloudfront-signer");

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const secret = env("PEER_JWT_SECRET");
const verifyOptions = { algorithms: ["HS256"], issuer: env("PEER_JWT_ISSUER"), audience: env("PEER_JWT_AUDIENCE") };
const distribution = env("PEER_DISTRIBUTION_URL");
const keyPairId = env("PEER_KEY_PAIR_ID");
const file = fs.readFileSync(env("PEER_KEY_FILE"), "utf8");
// The demo key file starts with a warning line; the PEM block is what a real key file holds.
const pem = file.slice(file.indexOf("-----BEGIN"));
const privateKey = env("PEER_NODE_KEY") === "keyobject" ? crypto.createPrivateKey(pem) : pem;
const lifetimeMs = 300 * 1000;

const app = express();
app.disable("x-powered-by");
app.disable("etag");
app.get("/files/*key", (req, res) => {
  res.set("Cache-Control", "private, no-store");
  const header = req.get("authorization") || "";
  if (!header.startsWith("Bearer ")) return res.sendStatus(401);
  let claims;
  try {
    claims = jwt.verify(header.slice(7), secret, verifyOptions);
  } catch {
    return res.sendStatus(401);
  }
  const key = req.params.key.join("/");
  const sub = claims.sub;
  if (typeof sub !== "string" || !sub || sub.includes("/") || key.split("/").includes("..") || !key.startsWith(`users/${sub}/`)) {
    return res.sendStatus(403);
  }
  const dateLessThan = new Date(Math.floor(Date.now() / 1000) * 1000 + lifetimeMs);
  res.redirect(302, getSignedUrl({ url: `${distribution}/${key}`, keyPairId, privateKey, dateLessThan }));
});
app.listen(Number(env("PEER_PORT")), "127.0.0.1");
