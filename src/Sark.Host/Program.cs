using Sark.Host;

return await Node.RunAsync(args).ConfigureAwait(false);
