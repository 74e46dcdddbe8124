"""The ProxylessNAS space of UNAS (Sec. 5, App. E.1), as a `SearchSpace`.

The package holds the genotype type and its codec (`genotype`), the backbone and child network
(`networks`), the supernet (`supernet`) and the pictures (`pictures`); this module is the space
as the search, retraining and launchers see it.
"""

import tensorflow as tf

from unas_tf import config_checks
from unas_tf.search_spaces import base, plotting
from unas_tf.search_spaces.proxyless import genotype as proxyless_genotype
from unas_tf.search_spaces.proxyless import networks as proxyless_networks
from unas_tf.search_spaces.proxyless import pictures, supernet


@base.register
class ProxylessSpace(base.SearchSpace):
    """21 MBConv layers with 7 choices each (UNAS Sec. 5, App. E), searched with latency."""

    name = proxyless_genotype.ProxylessGenotype.space
    networks = ("proxyless",)
    measures_latency = True

    search_rules = {
        "width_multiplier": config_checks.POSITIVE,
        "skip_dropout_rate": config_checks.FRACTION,
        "zero_init_residual": config_checks.BOOLEAN,
    }
    network_rules = {
        "width_multiplier": config_checks.POSITIVE,
        "dropout_rate": config_checks.with_meaning(config_checks.FRACTION, "(a probability)"),
    }

    def choice_shapes(self, config):
        return proxyless_genotype.proxyless_choice_shapes()

    def choice_masks(self, config):
        return {"layers": proxyless_genotype.choice_mask()}

    def build_supernet(self, config, num_classes):
        return supernet.ProxylessSupernet(
            num_classes,
            config.width_multiplier,
            skip_dropout_rate=config.skip_dropout_rate,
            seed=config.seed,
            zero_init_residual=config.zero_init_residual,
        )

    def genotype_from_indices(self, indices, config):
        return proxyless_genotype.proxyless_from_indices(indices)

    def epoch_summaries(self, logits, genotype):
        """A heatmap of the layer choices' probabilities and a drawing of the argmax genotype."""
        probabilities = tf.nn.softmax(logits["layers"]).numpy()
        tf.summary.image("layer_probabilities", pictures.layer_heatmap(probabilities))
        drawing = plotting.png_image(lambda buffer: pictures.draw_genotype(genotype, buffer))
        tf.summary.image("architecture", drawing)

    def describe(self, genotype):
        return ["  layers: " + ", ".join(genotype.ops[op] for op in genotype.layers)]

    def genotype_to_dict(self, genotype):
        return proxyless_genotype.proxyless_to_dict(genotype)

    def genotype_from_dict(self, data):
        return proxyless_genotype.proxyless_from_dict(data)

    def random_genotype(self, seed, config):
        return proxyless_genotype.random_proxyless(seed)

    def latency_network_settings(self, config, num_classes, image_size):
        return {
            "num_classes": num_classes,
            "width_multiplier": config.width_multiplier,
            "image_size": image_size,
        }

    def latency_network(self, genotype, settings):
        """The child network `proxyless_networks.proxyless_network(genotype, **settings)`."""
        return proxyless_networks.proxyless_network(genotype, **settings)

    def latency_features(self, genotype):
        if not isinstance(genotype, proxyless_genotype.ProxylessGenotype):
            raise ValueError(
                "Invalid value received for argument `genotype`. Expected a ProxylessGenotype. "
                f"Received: genotype={genotype!r}"
            )
        return proxyless_genotype.proxyless_to_one_hot(genotype)

    def random_search_genotype(self, seed, config):
        return proxyless_genotype.random_proxyless(seed)

    def build_network(self, genotype, config):
        return proxyless_networks.proxyless_network(
            genotype,
            num_classes=config.num_classes,
            width_multiplier=config.width_multiplier,
            image_size=config.image_size,
            dropout_rate=config.dropout_rate,
        )

    def network_report(self, model, genotype, config):
        """The width and each searchable layer's op and output shape (a skipped one keeps its
        input's shape)."""
        rows, shape = [], list(model.get_layer("stem_mbconv").output.shape[1:])
        for index, op in enumerate(genotype.layers, start=1):
            if op != proxyless_genotype.ZERO_INDEX:
                shape = list(model.get_layer(proxyless_networks.layer_name(index)).output.shape[1:])
            rows.append({"index": index, "op": genotype.ops[op], "output_shape": shape})
        return {
            "width_multiplier": config.width_multiplier,
            "searchable_layers": rows,
        }

    def draw(self, genotype, path):
        pictures.draw_genotype(genotype, path)
