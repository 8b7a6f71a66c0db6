// Preloaded into server-everything's HTTP modes by the specs (node --import): its express app
// listens on PORT on every interface; this binds a bare port listen to 127.0.0.1 instead.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const portOnly = (typeof args[0] === "number" || (typeof args[0] === "string" && /^\d+$/.test(args[0])))
    && (args.length === 1 || typeof args[1] === "function");
  if (portOnly) args.splice(1, 0, "127.0.0.1");
  return listen.apply(this, args);
};
