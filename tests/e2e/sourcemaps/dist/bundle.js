!function(){try{var e="undefined"!=typeof window?window:"undefined"!=typeof global?global:"undefined"!=typeof globalThis?globalThis:"undefined"!=typeof self?self:{},n=(new e.Error).stack;n&&(e._sentryDebugIds=e._sentryDebugIds||{},e._sentryDebugIds[n]="4f8a1c2e-7b3d-4e9f-a16c-5d2e8b9f0a71",e._sentryDebugIdIdentifier="sentry-dbid-4f8a1c2e-7b3d-4e9f-a16c-5d2e8b9f0a71")}catch(e){}}();
function c(n,t){const e=Date.now()+n;let r=0;for(;Date.now()<e;)for(let o=0;o<1e3;o++)r=(r*33+o)%1000033;if(t)throw new Error(`checksum failed at ${r}`);return r}module.exports={computeChecksums:c};
//# sourceMappingURL=bundle.js.map
//# debugId=4f8a1c2e-7b3d-4e9f-a16c-5d2e8b9f0a71
