'use strict';

// The prediction function as a zip + layer (default) or as a container image
// (`--param image=ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO@sha256:...`, what
// `slipway image push` prints). serverless.yml lists `${file(./infra/build/osls_image.js):functions}`
// among its functions and takes `layers` from here: the function is `custom.predict.common`
// plus `custom.predict.zip` or the image, and the runtime layer exists only where
// a zip function uses it (predict as a zip, or the Flask function). Everything else (routes,
// the alias `live`, permissions, the role) is the same for both forms.
//
// Refused at package time, before anything reaches AWS: an image that is not an ECR URI
// pinned by digest (Lambda takes ECR images only, and a tag could move under a published
// version), an image in another region than the stack (Lambda pulls from its own region), and
// SnapStart with an image (Lambda supports SnapStart for zip functions only).

const IMAGE_URI =
  /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/[a-z0-9]+(?:[._\/-][a-z0-9]+)*@sha256:[0-9a-f]{64}$/;

module.exports = async ({ resolveVariable }) => {
  const image = String(await resolveVariable('param:image'));
  const snapStart = String(await resolveVariable('param:snapStart'));
  const flask = String(await resolveVariable('param:flask'));
  const common = await resolveVariable('self:custom.predict.common');
  const layer = await resolveVariable('self:custom.predict.layers');
  // The Flask function stays a zip on the runtime layer whatever form predict takes.
  const zipLayers = flask === 'true' ? layer : {};
  if (image === '') {
    const zip = await resolveVariable('self:custom.predict.zip');
    return { functions: { predict: { ...common, ...zip } }, layers: layer };
  }
  const shown = image.length > 200 ? `${image.slice(0, 200)}...` : image;
  const match = IMAGE_URI.exec(image);
  if (!match) {
    throw new Error(
      `--param image=${shown}: use ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO@sha256:DIGEST ` +
        '(Lambda runs images from Amazon ECR, pinned by digest; `slipway image push` prints it)'
    );
  }
  const region = String(await resolveVariable('self:provider.region'));
  if (match[2] !== region) {
    throw new Error(
      `--param image=${shown}: the image is in ${match[2]} but the stack deploys to ` +
        `${region}; Lambda pulls images from its own region (push it there, or --region ${match[2]})`
    );
  }
  if (snapStart === 'true') {
    throw new Error(
      '--param snapStart=true with --param image: Lambda supports SnapStart for zip ' +
        'functions only, not container images; drop snapStart (provisioned concurrency ' +
        'keeps images warm) or deploy the zip'
    );
  }
  return {
    functions: { predict: { ...common, image: { uri: image } } },
    layers: zipLayers,
  };
};
